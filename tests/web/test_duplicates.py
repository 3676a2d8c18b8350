from __future__ import annotations

import re

import pytest
from django.urls import reverse

from leadloop.accounts.models import Role
from leadloop.capture.models import Touch
from leadloop.leads.models import DuplicateDismissal, Lead, LeadMerge, Stage
from tests.accounts.factories import UserFactory
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.web.conftest import SHOTS
from tests.web.helpers import row, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(client):
    user = UserFactory(role=Role.MARKETING_OPS, first_name="Mara", last_name="Ops")
    client.force_login(user)
    return user


@pytest.fixture
def pair():
    acme = CompanyFactory(name="Acme", domain="acme.example")
    older = LeadFactory(
        first_name="Ada",
        last_name="King",
        email="ada@acme.example",
        company=acme,
        title="CTO",
        stage=Stage.MQL,
    )
    newer = LeadFactory(
        first_name="ADA",
        last_name="King",
        email="a.king@acme.example",
        company=acme,
        title="Chief Technology Officer",
        phone="+49 30 1234567",
    )
    TouchFactory.create_batch(2, lead=newer)
    return older, newer


def _urls(a: Lead, b: Lead) -> dict[str, str]:
    return {
        "list": reverse("web:duplicate_list"),
        "compare": reverse("web:duplicate_compare", args=[a.pk, b.pk]),
        "merge": reverse("web:duplicate_merge", args=[a.pk, b.pk]),
        "dismiss": reverse("web:duplicate_dismiss", args=[a.pk, b.pk]),
    }


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.REVENUE_LEADER])
def test_other_roles_are_refused_every_duplicates_page(client, pair, role):
    client.force_login(UserFactory(role=role))
    urls = _urls(*pair)

    assert client.get(urls["list"]).status_code == 403
    assert client.get(urls["compare"]).status_code == 403
    assert client.post(urls["merge"], {"survivor": pair[0].pk}).status_code == 403
    assert client.post(urls["dismiss"]).status_code == 403
    assert Lead.objects.count() == 2
    assert DuplicateDismissal.objects.count() == 0


@pytest.mark.parametrize("role", [Role.MARKETING_OPS, Role.SALES_MANAGER, Role.ADMIN])
def test_reviewers_see_the_list_and_the_nav_item(client, pair, role):
    client.force_login(UserFactory(role=role))

    response = client.get(reverse("web:duplicate_list"))

    assert response.status_code == 200
    assert re.search(r'href="/leads/duplicates/"[^>]*aria-current="page"', text(response))


def test_a_rep_has_no_duplicates_nav_item(client):
    client.force_login(UserFactory(role=Role.SALES_REP))

    response = client.get(reverse("web:dashboard"))

    assert 'href="/leads/duplicates/"' not in text(response)


def test_the_list_shows_each_pair_with_why(client, ops, pair):
    older, newer = pair

    response = client.get(reverse("web:duplicate_list"))

    cells = row(response, "duplicates", "pair", f"{older.pk}-{newer.pk}")
    assert cells[0].startswith("Ada King ada@acme.example · Acme")
    assert cells[1].startswith("ADA King a.king@acme.example · Acme")
    assert cells[2] == "same name and company"


def test_the_list_says_what_to_do_when_there_is_nothing_to_review(client, ops):
    response = client.get(reverse("web:duplicate_list"))

    assert "No suspected duplicates" in text(response)


def test_the_compare_page_shows_both_leads_and_offers_the_funnel_leader_as_survivor(
    client, ops, pair
):
    older, newer = pair

    response = client.get(reverse("web:duplicate_compare", args=[newer.pk, older.pk]))

    assert row(response, "compare", "field", "touches")[1:] == ["2", "0"]
    assert row(response, "compare", "field", "stage")[1:] == ["Lead", "MQL"]
    assert row(response, "compare", "field", "title")[1:] == ["Chief Technology Officer", "CTO"]
    page = text(response)
    assert f'name="survivor" value="{older.pk}" checked' in page
    assert f'name="keep_title" value="{older.pk}" checked' in page
    assert "keep_phone" not in page  # only one lead has a phone: nothing to choose


def test_comparing_a_lead_that_is_gone_is_not_found(client, ops, pair):
    response = client.get(reverse("web:duplicate_compare", args=[pair[0].pk, 999999]))

    assert response.status_code == 404


def test_merging_keeps_the_chosen_survivor_and_values(client, ops, pair):
    older, newer = pair

    response = client.post(
        reverse("web:duplicate_merge", args=[older.pk, newer.pk]),
        {"survivor": older.pk, "keep_title": newer.pk, "keep_first_name": older.pk},
        follow=True,
    )

    older.refresh_from_db()
    assert (older.title, older.first_name, older.phone) == (
        "Chief Technology Officer",
        "Ada",
        "+49 30 1234567",
    )
    assert not Lead.objects.filter(pk=newer.pk).exists()
    assert Touch.objects.filter(lead=older).count() == 2
    merge = LeadMerge.objects.get()
    assert (merge.merged_lead_id, merge.actor) == (newer.pk, ops)
    assert f"Lead {newer.pk} merged into Ada King (lead {older.pk})" in text(response)
    assert "No suspected duplicates" in text(response)


def test_merging_needs_a_post(client, ops, pair):
    response = client.get(reverse("web:duplicate_merge", args=[pair[0].pk, pair[1].pk]))

    assert response.status_code == 405


def test_merging_a_lead_already_merged_is_not_found(client, ops, pair):
    older, newer = pair
    url = reverse("web:duplicate_merge", args=[older.pk, newer.pk])
    client.post(url, {"survivor": older.pk, "keep_title": older.pk, "keep_first_name": older.pk})

    response = client.post(url, {"survivor": older.pk}, follow=True)

    assert response.status_code == 404
    assert LeadMerge.objects.count() == 1


def test_not_a_duplicate_records_the_dismissal_and_hides_the_pair(client, ops, pair):
    older, newer = pair

    response = client.post(reverse("web:duplicate_dismiss", args=[newer.pk, older.pk]), follow=True)

    dismissal = DuplicateDismissal.objects.get()
    assert (dismissal.lead_low_id, dismissal.lead_high_id, dismissal.actor) == (
        older.pk,
        newer.pk,
        ops,
    )
    assert "marked as different people" in text(response)
    assert "No suspected duplicates" in text(response)


# --- In a real browser -----------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reviewer_compares_and_merges_a_pair_in_the_browser(live_server, pair, browser):
    older, newer = pair
    UserFactory(username="mara", role=Role.MARKETING_OPS, first_name="Mara", last_name="Ops")
    for n in range(3):
        LeadFactory(first_name="Grace", last_name=f"Hopper{n}", phone=f"+1 212 555 01{n}0")
        LeadFactory(first_name="G.", last_name=f"Hopper{n}", phone=f"(212) 555-01{n}0")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mara")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Duplicates").click()
    page.wait_for_url(f"{live_server.url}/leads/duplicates/")
    assert page.locator("[data-pair]").count() == 4
    page.screenshot(path=str(SHOTS / "duplicates-list.png"), full_page=True)

    page.locator(f'[data-pair="{older.pk}-{newer.pk}"]').get_by_role("link", name="Compare").click()
    page.wait_for_url(f"**/leads/duplicates/{older.pk}/{newer.pk}/")
    page.screenshot(path=str(SHOTS / "duplicates-compare.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Merge").click()
    page.wait_for_url(f"{live_server.url}/leads/duplicates/")
    assert page.locator("[data-pair]").count() == 3
    assert "merged into Ada King" in page.locator(".messages").inner_text()
    page.close()

    assert not Lead.objects.filter(pk=newer.pk).exists()

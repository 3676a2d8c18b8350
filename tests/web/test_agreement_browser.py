"""The agreement in a real browser: marketing ops drafts a change in the structured editor
(a mistake is shown beside its field), approves it for marketing, a sales manager approves it
for sales, and /agreement shows the new version. Screenshots: artifacts/screenshots/agreement-*.png."""

from __future__ import annotations

import pytest

from leadloop.accounts.models import Role
from leadloop.agreements.models import AgreementStatus, AgreementVersion
from leadloop.agreements.selectors import agreement_in_force
from leadloop.agreements.services import agreement_draft_create
from leadloop.scoring.models import LeadScore
from tests.accounts.factories import TeamFactory, UserFactory
from tests.agreements.factories import with_groups
from tests.leads.factories import LeadFactory
from tests.web.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _shot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"agreement-{name}.png"), full_page=True)


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_marketing_drafts_a_change_both_sides_approve_and_the_page_shows_it(browser, live_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    TeamFactory(name="Sales")
    UserFactory(username="mara", first_name="Mara", last_name="Marketing", role=Role.MARKETING_OPS)
    UserFactory(username="sam", first_name="Sam", last_name="Sales", role=Role.SALES_MANAGER)
    UserFactory(username="ana", first_name="Ana", last_name="Alves", role=Role.SALES_REP)
    agreement_in_force()
    base = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    _sign_in(page, base, "mara")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agreement").click()
    page.wait_for_url(f"{base}/agreement/")
    _shot(page, "v1")
    page.get_by_role("link", name="Draft a change").click()
    page.get_by_label("Title of this version").fill("DACH territory, engagement 50")
    page.get_by_label("Engagement at least (0-100)").first.fill("50")
    page.get_by_role("button", name="+ Add routing rule").click()
    page.get_by_label("Rule name").last.fill("DACH")
    page.get_by_label("Matches").last.select_option("territory")
    page.get_by_label("Countries").last.fill("Germany")
    page.get_by_label("Regions").last.fill("Nordic")
    page.get_by_role("button", name="+ Add rep").last.click()
    page.get_by_label("Rep", exact=True).last.select_option("ana")
    page.get_by_label("Weight").last.fill("2")
    page.get_by_role("button", name="Move rule up").last.click()
    _shot(page, "editor")
    page.get_by_role("button", name="Save as draft v2").click()

    page.get_by_text("'Germany' is not an ISO 3166-1 alpha-2 code such as DE.").wait_for()
    page.locator("#rule-1-regions ~ .field__error").get_by_text(
        "'Nordic' is not a sales region (did you mean NORDICS?"
    ).wait_for()
    _shot(page, "editor-errors")
    page.locator('[data-list-wrap="rule"]').screenshot(
        path=str(SHOTS / "agreement-editor-rules.png")
    )
    assert AgreementVersion.objects.count() == 1
    page.locator("#rule-1-countries").fill("DE, AT, CH")
    page.locator("#rule-1-regions").fill("")
    page.get_by_role("button", name="Save as draft v2").click()
    page.wait_for_url(f"{base}/agreement/versions/2/")
    page.get_by_text("Draft v2 saved.").wait_for()
    _shot(page, "draft")
    page.get_by_role("button", name="Approve for marketing").click()
    page.get_by_text("Approved for marketing.").wait_for()
    _sign_out(page)

    _sign_in(page, base, "sam")
    page.goto(f"{base}/agreement/")
    page.get_by_role("link", name="Review it →").click()
    page.get_by_label("Note (optional)").fill("Agreed in the Monday pipeline review")
    page.get_by_role("button", name="Approve for sales").click()
    page.wait_for_url(f"{base}/agreement/")
    page.get_by_text("Both teams approved: version 2 is in force from now on.").wait_for()
    _shot(page, "v2")

    assert errors == []
    assert page.locator('[data-figure="version"]').inner_text() == "2"
    routing = page.locator('[data-section="routing"]')
    assert routing.get_by_text(
        "DACH (territory): leads from DE, AT or CH go to ana (weight 2)."
    ).is_visible()
    assert page.get_by_text("approved by Sam Sales").is_visible()
    version = AgreementVersion.objects.get(number=2)
    assert version.status == AgreementStatus.IN_FORCE
    assert [r["name"] for r in version.body["routing"]["rules"]] == [
        "Named accounts",
        "DACH",
        "Everyone",
    ]
    page.goto(f"{base}/agreement/versions/")
    _shot(page, "history")
    page.close()

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    ).new_page()
    _sign_in(phone, base, "sam")
    phone.goto(f"{base}/agreement/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(SHOTS / "agreement-phone.png"), full_page=True)
    phone.context.close()


def test_the_hand_off_time_shows_only_for_a_batched_hand_off(browser, live_server):
    UserFactory(username="mara", role=Role.MARKETING_OPS)
    agreement_in_force()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, live_server.url, "mara")
    page.goto(f"{live_server.url}/agreement/draft/")
    weekday = page.get_by_label("Every", exact=True)

    hidden_before = not weekday.is_visible()
    page.get_by_label("Batched, once a week").check()
    weekday.select_option("4")
    page.get_by_label("At", exact=True).fill("14:30")
    page.get_by_label("Title of this version").fill("Friday afternoon hand-off")
    page.locator("[data-agreement-editor]").locator("#ed-handoff").scroll_into_view_if_needed()
    page.locator("section[aria-labelledby=ed-handoff]").screenshot(
        path=str(SHOTS / "agreement-editor-handoff.png")
    )
    page.get_by_role("button", name="Save as draft v2").click()
    page.wait_for_url(f"{live_server.url}/agreement/versions/2/")

    assert hidden_before
    assert AgreementVersion.objects.get(number=2).body["handoff"] == {
        "mode": "batched",
        "weekday": 4,
        "time": "14:30",
        "time_zone": "Europe/Berlin",
    }
    assert page.get_by_text(
        "Batched: MQLs are collected and handed to sales every Friday at 14:30 (Europe/Berlin)."
    ).first.is_visible()
    page.close()


def test_a_revenue_leader_sees_both_sides_and_the_leads_the_draft_would_qualify(
    browser, live_server
):
    UserFactory(username="rita", first_name="Rita", last_name="Lead", role=Role.REVENUE_LEADER)
    for grade in ("A", "A", "B", "C", "D"):
        LeadScore.objects.create(lead=LeadFactory(), fit_score=50, fit_grade=grade)
    agreement_in_force()
    draft = agreement_draft_create(
        actor=UserFactory(role=Role.MARKETING_OPS),
        title="Only grade A",
        body=with_groups({"fit_grade_min": "A"}),
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, live_server.url, "rita")

    page.goto(f"{live_server.url}/agreement/versions/{draft.number}/")
    _shot(page, "draft-leader")

    buttons = page.locator(".ag-approve-form button")
    assert buttons.all_inner_texts() == ["Approve for marketing", "Approve for sales"]
    assert page.locator("[data-impact]").inner_text() == (
        "Leads meeting the score thresholds now: 2 under this draft, 0 under version 1 "
        "(of 5 scored leads)."
    )
    page.close()

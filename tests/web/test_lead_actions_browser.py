"""The stage panel in a real browser: a rep accepts one MQL and rejects another with a reason;
the stage, owner and timeline update in place. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest

from leadloop.accounts.models import Role, TeamKind
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.web.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _shoot(page, name: str) -> None:
    # From the top, so the sticky top bar is not drawn over the middle of a full-page shot.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_a_rep_accepts_one_mql_and_rejects_another_with_a_reason(browser, live_server):
    team = TeamFactory(name="Sales DACH", kind=TeamKind.SALES)
    rep = UserFactory(
        username="rick", first_name="Rick", last_name="Rep", role=Role.SALES_REP, team=team
    )
    ada = LeadFactory(
        first_name="Ada",
        last_name="Lovelace",
        title="CTO",
        company=CompanyFactory(name="Analytical Engines"),
        stage=Stage.MQL,
        owner=rep,
        cycle=1,
    )
    bob = LeadFactory(
        first_name="Bob",
        last_name="Builder",
        title="Site manager",
        company=CompanyFactory(name="Fix It Ltd"),
        stage=Stage.MQL,
        owner=rep,
        cycle=1,
    )
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _sign_in(page, live_server.url, "rick")

    # Accept: one press, the panel, stage and timeline change without a page load.
    page.goto(f"{live_server.url}{ada.get_absolute_url()}")
    panel = page.locator("#stage-panel")
    assert panel.locator("[data-action]").evaluate_all("els => els.map(e => e.dataset.action)") == [
        "accept",
        "reject",
    ]
    page.evaluate("window.__samePage = true")
    panel.get_by_role("button", name="Accept").click()
    page.locator(".stage-panel__done").wait_for()
    assert page.locator(".stage-panel__done").inner_text() == "Moved from MQL to SAL."
    assert page.evaluate("window.__samePage") is True
    assert page.locator("#lead-facts [data-stage]").inner_text().startswith("SAL")
    first = page.locator('#lead-timeline [data-kind="stage_change"]').first
    assert "Rick Rep" in first.inner_text()
    assert "agreement v1" in first.inner_text()
    assert panel.locator("[data-action]").evaluate_all("els => els.map(e => e.dataset.action)") == [
        "qualify",
        "reject",
    ]
    _shoot(page, "lead_accepted.png")

    # Reject: the form lists the agreement's reject reasons with what happens next.
    page.goto(f"{live_server.url}{bob.get_absolute_url()}")
    panel = page.locator("#stage-panel")
    panel.locator("summary", has_text="Reject").click()
    form = panel.locator('[data-action="reject"] form')
    assert form.is_visible()
    assert not form.locator(".stage-form__duplicate").is_visible()
    form.get_by_role("radio", name=re.compile(r"^Duplicate")).check()
    assert form.locator(".stage-form__duplicate").is_visible()
    form.get_by_role("radio", name=re.compile(r"^Not now")).check()
    form.get_by_label("Note").fill("Budget frozen until Q3; call again in July.")
    _shoot(page, "lead_reject_form.png")
    form.get_by_role("button", name="Reject", exact=True).click()

    page.locator(".stage-panel__done").wait_for()
    assert page.locator(".stage-panel__done").inner_text() == (
        "Moved from MQL to Nurture (Not now: back to nurture, may re-qualify after 90 days)."
    )
    assert page.locator("#lead-facts [data-stage]").inner_text().startswith("Nurture")
    assert page.locator("#lead-facts [data-owner]").inner_text() == "Marketing queue"
    first = page.locator('#lead-timeline [data-kind="stage_change"]').first
    assert "Not now" in first.inner_text()
    link = first.get_by_role("link", name="agreement v1")
    assert link.get_attribute("href") == "/agreement/versions/1/"
    assert "Budget frozen until Q3; call again in July." in first.inner_text()
    assert "agreement v1" in first.inner_text()
    assert page.locator('#assignments [data-kind="returned"]').first.is_visible()
    assert panel.locator("[data-action]").count() == 0
    assert "marketing owns it" in panel.inner_text()
    _shoot(page, "lead_rejected.png")

    assert Lead.objects.get(pk=ada.pk).stage == Stage.SAL
    assert Lead.objects.get(pk=bob.pk).stage == Stage.NURTURE
    assert list(StageChange.objects.order_by("at").values_list("reason", "agreement_version")) == [
        ("", 1),
        ("not_now", 1),
    ]
    page.close()

    # A manager of the team sees the same lead's moves beside the reassign form.
    UserFactory(
        username="meg", first_name="Meg", last_name="Manager", role=Role.SALES_MANAGER, team=team
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _sign_in(page, live_server.url, "meg")
    page.goto(f"{live_server.url}{ada.get_absolute_url()}")
    panel = page.locator("#stage-panel")
    assert panel.locator("[data-action]").evaluate_all("els => els.map(e => e.dataset.action)") == [
        "qualify",
        "reject",
    ]
    assert page.locator("#assign-form").is_visible()
    _shoot(page, "lead_manager.png")
    assert errors == []
    page.close()

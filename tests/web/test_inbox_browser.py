"""The inbox in a real browser: a rep accepts one lead with the keyboard and rejects another
through the dialog, without leaving the page; a manager sees the team's clocks; the compliance
page draws its charts. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from leadloop.accounts.models import Role
from leadloop.capture.models import TouchKind
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.scoring.models import LeadScore
from leadloop.scoring.rules import epoch_weight
from leadloop.sla.models import ClockOutcome, MarketingSlaResult
from leadloop.sla.services import clocks_on_assignment
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory
from tests.sla.factories import SlaClockFactory, assign, mql, person, sales_team
from tests.web.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def _sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _shoot(page: Any, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / name), full_page=True)


def _clocked(rep: Any, at: dt.datetime, **lead: Any) -> Lead:
    with time_machine.travel(at, tick=False):
        clock = clocks_on_assignment(assignment_id=assign(mql(**lead), rep).pk).started[0]
    return clock.lead


def _watch(page: Any, errors: list[str]) -> None:
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)


def _selected(page: Any) -> str:
    return page.locator("[data-inbox] tr.is-selected").get_attribute("data-lead")


def test_a_rep_accepts_with_the_keyboard_and_rejects_through_the_dialog(browser, live_server):
    team = sales_team("Sales DACH")
    rick = person("rick", team=team, last_name="Rep")
    now = timezone.now()
    ada = _clocked(
        rick, now - dt.timedelta(days=7), first_name="Ada", last_name="Lovelace",
        company=CompanyFactory(name="Analytical Engines"),
    )  # fmt: skip  # long overdue: red, first
    bob = _clocked(
        rick, now, first_name="Bob", last_name="Builder", company=CompanyFactory(name="Fix It Ltd"),
    )  # fmt: skip  # just arrived: green
    LeadScore.objects.create(
        lead=ada, fit_score=82, fit_grade="A", engagement_sum=40 * epoch_weight(now, 30.0),
        predicted_probability=0.31,
    )  # fmt: skip
    LeadScore.objects.create(lead=bob, fit_score=41, fit_grade="C", engagement_sum=0.0)
    TouchFactory(lead=ada, kind=TouchKind.WEBINAR, occurred_at=now - dt.timedelta(days=2))
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _watch(page, errors)
    _sign_in(page, live_server.url, "rick")

    rows = page.locator("[data-inbox] tr[data-lead]")
    assert rows.evaluate_all("rs => rs.map(r => [r.dataset.lead, r.dataset.state])") == [
        [str(ada.pk), "red"],
        [str(bob.pk), "green"],
    ]
    assert _selected(page) == str(ada.pk)
    _shoot(page, "inbox.png")

    # The keyboard: j and k move, a accepts the selected lead, in place.
    page.evaluate("window.__samePage = true")
    page.keyboard.press("j")
    assert _selected(page) == str(bob.pk)
    page.keyboard.press("k")
    assert _selected(page) == str(ada.pk)
    page.keyboard.press("a")
    ada_row = page.locator(f"#inbox-row-{ada.pk}")
    ada_row.locator("[data-row-message]").wait_for()
    assert ada_row.locator("[data-row-message]").inner_text() == "Accepted: now SAL."
    assert "Contact attempt" in ada_row.locator("td.inbox__clock").inner_text()
    assert page.evaluate("window.__samePage") is True
    _shoot(page, "inbox_accepted.png")

    # The dialog: r opens it with the agreement's reasons; Enter submits; the row says what
    # happened next.
    page.keyboard.press("j")
    assert _selected(page) == str(bob.pk)
    page.keyboard.press("r")
    dialog = page.locator("[data-reject-dialog]")
    assert dialog.is_visible()
    assert dialog.locator("[data-reject-name]").inner_text() == "Bob Builder"
    reasons = dialog.get_by_role("radio")
    assert reasons.count() >= 4
    dialog.get_by_role("radio", name=re.compile(r"^Not now")).check()
    dialog.get_by_label("Note").fill("Budget frozen until Q3.")
    _shoot(page, "inbox_reject_dialog.png")
    dialog.get_by_label("Note").press("Enter")
    bob_row = page.locator(f"#inbox-row-{bob.pk}")
    bob_row.locator("[data-row-message]").wait_for()
    assert not dialog.is_visible()
    assert bob_row.locator("[data-row-message]").inner_text() == (
        "Rejected: Not now - back to nurture, may re-qualify after 90 days."
    )
    assert page.evaluate("window.__samePage") is True
    _shoot(page, "inbox_rejected.png")

    # o opens the selected lead.
    page.keyboard.press("k")
    page.keyboard.press("o")
    page.wait_for_url(f"{live_server.url}{ada.get_absolute_url()}")

    assert Lead.objects.get(pk=ada.pk).stage == Stage.SAL
    assert Lead.objects.get(pk=bob.pk).stage == Stage.NURTURE
    rejected = StageChange.objects.filter(lead_id=bob.pk).latest("at")
    assert (rejected.reason, rejected.note) == ("not_now", "Budget frozen until Q3.")
    assert errors == []
    page.close()


def test_escape_closes_the_dialog_and_nothing_is_rejected(browser, live_server):
    rick = person("rick", team=sales_team("Sales DACH"), last_name="Rep")
    lead = _clocked(rick, timezone.now(), first_name="Cara", last_name="Cole")
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _watch(page, errors)
    _sign_in(page, live_server.url, "rick")

    page.locator(f"#inbox-row-{lead.pk} [data-reject]").click()
    dialog = page.locator("[data-reject-dialog]")
    assert dialog.is_visible()
    page.keyboard.press("Escape")

    assert not dialog.is_visible()
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL
    assert errors == []
    page.close()


def test_the_inbox_updates_in_place_when_a_new_mql_arrives(browser, live_server, settings):
    settings.LEADLOOP_INBOX_POLL_SECONDS = 1
    rick = person("rick", team=sales_team("Sales DACH"), last_name="Rep")
    now = timezone.now()
    first = _clocked(rick, now - dt.timedelta(days=7), first_name="Ada", last_name="Lovelace")
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _watch(page, errors)
    _sign_in(page, live_server.url, "rick")
    page.evaluate("window.__samePage = true")
    header = page.locator("[data-table=inbox] thead th")
    columns = header.evaluate_all("hs => hs.map(h => h.getBoundingClientRect().width)")
    top = page.locator(f"#inbox-row-{first.pk}").bounding_box()

    arrived = _clocked(rick, timezone.now(), first_name="Bob", last_name="Builder")
    page.locator(f"#inbox-row-{arrived.pk}").wait_for(timeout=10_000)

    assert page.evaluate("window.__samePage") is True
    assert header.evaluate_all("hs => hs.map(h => h.getBoundingClientRect().width)") == columns
    moved = page.locator(f"#inbox-row-{first.pk}").bounding_box()
    # Only the bottom border a last row lacks may differ: the row itself does not move.
    assert (moved["x"], moved["y"], moved["width"]) == (top["x"], top["y"], top["width"])
    assert abs(moved["height"] - top["height"]) <= 1
    assert page.locator("[data-figure=inbox-count]").inner_text().startswith("2 waiting")
    assert _selected(page) == str(first.pk)
    assert errors == []
    page.close()


def test_a_manager_sees_the_team_clocks_and_the_compliance_charts(browser, live_server):
    team = sales_team("Sales DACH")
    meg = person("meg", team=team, role=Role.SALES_MANAGER, last_name="Manager")
    ana, ben = (
        person("ana", team=team, last_name="Alvarez"),
        person("ben", team=team, last_name="Berg"),
    )
    now = timezone.now()
    _clocked(ana, now - dt.timedelta(days=7), first_name="Ada", last_name="Lovelace")
    _clocked(ben, now - dt.timedelta(hours=2), first_name="Bob", last_name="Builder")
    _clocked(ana, now, first_name="Cara", last_name="Cole")
    for weeks_ago in range(1, 5):
        due = now - dt.timedelta(weeks=weeks_ago)
        for n, owner in enumerate((ana, ben) * 6):
            late = n % 5 == 0
            SlaClockFactory(
                owner=owner, started_at=due - dt.timedelta(days=1), due_at=due,
                stopped_at=due + dt.timedelta(hours=1) if late else due - dt.timedelta(hours=n),
                outcome=ClockOutcome.BREACHED if late else ClockOutcome.MET, goal_reached=True,
            )  # fmt: skip
        start = due - dt.timedelta(days=7)
        MarketingSlaResult.objects.create(
            period_start=start, period_end=start + dt.timedelta(days=7), delivered=40 + 3 * weeks_ago,
            target=50, good_fit=28, good_fit_share=28 / (40 + 3 * weeks_ago), good_fit_target=0.6,
            answered=36, accepted=20, accepted_share=20 / 36, accepted_target=0.5,
            delivered_met=False, good_fit_met=True, accepted_met=True, agreement_version=1,
            evaluated_at=start + dt.timedelta(days=7),
        )  # fmt: skip
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _watch(page, errors)
    _sign_in(page, live_server.url, meg.username)

    groups = page.locator("#team-clocks tbody[data-holder]")
    assert groups.evaluate_all("gs => gs.map(g => g.dataset.holder)") == [str(ana.pk), str(ben.pk)]
    assert page.locator('#team-clocks tr[data-state="red"]').count() == 1
    assert page.locator('[data-scorecard="sales"]').is_visible()
    assert page.locator('[data-scorecard="marketing"]').is_visible()
    _shoot(page, "manager_team_clocks.png")

    page.goto(f"{live_server.url}/sla/compliance/")
    for chart in ("share", "breaches", "response", "delivered", "quality"):
        drawn = page.evaluate(
            f"!!(window.Chart && Chart.getChart(document.getElementById('chart-{chart}')))"
        )
        assert drawn, chart
    _shoot(page, "sla_compliance.png")
    page.get_by_text("Show the numbers as a table").first.click()
    assert page.locator('[data-table="share-weeks"]').is_visible()
    _shoot(page, "sla_compliance_table.png")
    assert errors == []
    page.close()


def test_on_a_phone_the_inbox_and_the_compliance_page_fit_the_screen(browser, live_server):
    team = sales_team("Sales DACH")
    rick = person("rick", team=team, last_name="Rep")
    person("leo", role=Role.REVENUE_LEADER, last_name="Leader")
    lead = _clocked(
        rick, timezone.now() - dt.timedelta(days=7), first_name="Ada", last_name="Lovelace"
    )
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    _sign_in(page, live_server.url, "rick")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator(f"#inbox-row-{lead.pk} [data-accept]").is_visible()
    page.screenshot(path=str(SHOTS / "inbox_phone.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, live_server.url, "leo")
    page.goto(f"{live_server.url}/sla/compliance/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "sla_compliance_phone.png"), full_page=True)
    context.close()

"""The UI in a real browser: each role signs in, sees its blocks, searches with "/", and the
layout holds at 1280 px and on a phone. Screenshots go to artifacts/screenshots/."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from leadloop.accounts.models import Role
from leadloop.capture.models import TouchKind
from leadloop.leads.models import Stage
from leadloop.lifecycle.selectors import week_period
from leadloop.lifecycle.services import lead_transition
from tests.accounts.factories import TeamFactory, UserFactory
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.web.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def world() -> dict[str, object]:
    """A small sales floor: one user per role, a team, leads in every stage of the loop."""
    now = timezone.now()
    # Every MQL falls inside the current week (Berlin), whatever day the test runs.
    week_start = week_period(now=now, tz=ZoneInfo("Europe/Berlin")).start
    span = now - week_start

    def in_week(share: float) -> dt.datetime:
        return week_start + span * share

    team = TeamFactory(name="Sales DACH")
    users = {
        "marketing_ops": UserFactory(
            username="mara", first_name="Mara", last_name="Marketing", role=Role.MARKETING_OPS
        ),
        "sales_rep": UserFactory(
            username="rick", first_name="Rick", last_name="Rep", role=Role.SALES_REP, team=team
        ),
        "sales_manager": UserFactory(
            username="meg",
            first_name="Meg",
            last_name="Manager",
            role=Role.SALES_MANAGER,
            team=team,
        ),
        "revenue_leader": UserFactory(
            username="liv", first_name="Liv", last_name="Leader", role=Role.REVENUE_LEADER
        ),
    }
    rep = users["sales_rep"]
    star = LeadFactory(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@analytical.example",
        title="CTO",
        company=CompanyFactory(name="Analytical Engines", sector="Software"),
        owner=rep,
        source="webinar",
        created_at=now - dt.timedelta(days=3),
    )
    TouchFactory(lead=star, kind=TouchKind.WEBINAR, occurred_at=in_week(0.1))
    lead_transition(lead_id=star.pk, to=Stage.MQL, actor=None, rule="score ≥ 60", at=in_week(0.11))
    for i in range(6):
        lead = LeadFactory(
            owner=rep if i % 2 else None,
            source=("paid_search", "webinar", "referral")[i % 3],
            created_at=now - dt.timedelta(hours=5 + i),
        )
        lead_transition(
            lead_id=lead.pk, to=Stage.MQL, actor=None, rule="score ≥ 60", at=in_week(0.2 + i / 10)
        )
        if i < 3:
            lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=rep, at=in_week(0.25 + i / 10))
    LeadFactory.create_batch(5, source="organic_search", created_at=now - dt.timedelta(hours=1))
    return {"users": users, "star": star}


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


EXPECTED = {
    "marketing_ops": (
        "Marketing overview",
        "New leads and MQLs by source this month",
        [
            "Dashboard",
            "Leads",
            "Agreement",
            "SLA compliance",
            "Duplicates",
            "Forms",
            "Imports",
            "Scoring",
            "Predictive model",
            "Webhooks",
        ],
    ),
    "sales_rep": ("Your inbox", "Your open leads", ["Inbox", "Leads", "Agreement"]),
    "sales_manager": (
        "Team overview",
        "Your team's open leads by rep",
        ["Dashboard", "Leads", "Agreement", "SLA compliance", "Duplicates", "Routing"],
    ),
    "revenue_leader": (
        "Revenue overview",
        "How far this quarter's MQLs got",
        ["Dashboard", "Leads", "Agreement", "SLA compliance", "Predictive model", "Routing"],
    ),
}


def test_each_role_sees_its_dashboard_and_finds_a_lead_with_slash(browser, live_server, world):
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for role, (title, block, nav) in EXPECTED.items():
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        _sign_in(page, live_server.url, world["users"][role].username)

        assert page.get_by_role("heading", level=1).inner_text() == title
        assert page.get_by_role("heading", name=block).is_visible()
        assert (
            page.get_by_role("navigation", name="Main")
            .locator(".sidenav__list")
            .first.locator(".sidenav__link")
            .all_inner_texts()
            == nav
        )
        assert page.locator('[data-figure="mqls-this-week"]').inner_text() == "7"
        if role == "sales_rep":
            assert page.get_by_role("link", name="Ada Lovelace").first.is_visible()
        page.screenshot(path=str(SHOTS / f"{role}.png"), full_page=True)

        page.locator("body").press("/")
        assert page.evaluate("document.activeElement.id") == "global-q"
        page.keyboard.type("lovelace")
        page.locator("#quick-results").get_by_role("link", name="Ada Lovelace").click()
        page.wait_for_url(f"{live_server.url}{world['star'].get_absolute_url()}")
        assert page.get_by_role("heading", level=1).inner_text() == "Ada Lovelace"
        assert page.locator('[data-kind="stage_change"]').count() == 1
        assert page.locator('[data-kind="touch"]').count() == 1
        context.close()
    assert errors == []


def test_the_lead_list_filters_in_place_and_keeps_the_url(browser, live_server, world):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _sign_in(page, live_server.url, "rick")
    page.goto(f"{live_server.url}/leads/")
    assert page.locator(".results__count").inner_text().endswith("of 12 leads")

    page.get_by_label("Stage").select_option("sal")
    page.wait_for_url("**/leads/?*stage=sal*")
    page.wait_for_function(
        "document.querySelector('.results__count').innerText.includes('of 3 leads')"
    )
    page.get_by_label("Owner").select_option("me")
    page.wait_for_function(
        "document.querySelector('.results__count').innerText.includes('of 1 lead')"
    )

    assert "owner=me" in page.url
    page.screenshot(path=str(SHOTS / "lead-list.png"), full_page=True)
    page.goto(f"{live_server.url}{world['star'].get_absolute_url()}")
    page.screenshot(path=str(SHOTS / "lead-page.png"), full_page=True)
    page.close()


def test_on_a_phone_the_navigation_folds_into_a_toggle(browser, live_server, world):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    _sign_in(page, live_server.url, "rick")

    nav = page.get_by_role("navigation", name="Main")
    toggle = page.get_by_role("button", name="Menu")
    assert not nav.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "phone.png"), full_page=True)

    toggle.click()
    assert nav.is_visible()
    assert toggle.get_attribute("aria-expanded") == "true"
    page.screenshot(path=str(SHOTS / "phone-nav-open.png"))
    nav.get_by_role("link", name="Leads").click()
    page.wait_for_url(f"{live_server.url}/leads/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "phone-leads.png"), full_page=True)
    context.close()

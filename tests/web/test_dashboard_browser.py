"""The marketing ops home in a real browser: this week's delivery to sales against the
agreement, at 1280 px and on a phone. Screenshots: artifacts/screenshots/marketing-home-*.png."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from leadloop.accounts.models import Role
from leadloop.leads.models import Stage
from leadloop.lifecycle.selectors import week_period
from leadloop.lifecycle.services import lead_transition
from leadloop.routing.services import lead_route
from leadloop.scoring.models import ScoreHistory
from tests.accounts.factories import UserFactory
from tests.sla.factories import mql, person, sales_team, sla_agreement
from tests.web.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def delivered() -> int:
    """Twelve MQLs handed to sales since this week began (Berlin, the hand-off's zone), three
    of them accepted; returns how many."""
    person("ana", team=sales_team("Sales"))
    agreement = sla_agreement(
        marketing={"mqls_per_period": 20, "good_fit_share": 0.6, "accepted_share": 0.5}
    )
    now = timezone.now()
    start = week_period(now=now, tz=ZoneInfo("Europe/Berlin")).start
    for i in range(12):
        at = start + (now - start) * (i + 1) / 13
        lead = mql(at=at)
        fit = 80 if i % 3 else 30
        ScoreHistory.objects.create(lead=lead, at=at, fit_score=fit, engagement_score=50)
        change = lead.stage_changes.get(to_stage=Stage.MQL)
        lead_route(lead_id=lead.pk, agreement=agreement, stage_change_id=change.pk, at=at)
        if i < 3:
            lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=None)
    UserFactory(username="mara", first_name="Mara", last_name="Marketing", role=Role.MARKETING_OPS)
    return 12


def _home(browser, live_server, **context_args):
    context = browser.new_context(**context_args)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mara")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    return context, page, errors


def test_marketing_ops_sees_this_weeks_delivery_first(browser, live_server, delivered):
    context, page, errors = _home(browser, live_server, viewport={"width": 1280, "height": 900})

    card = page.locator('[data-scorecard="delivery"]')
    assert card.get_by_role("heading").inner_text() == "This week's delivery to sales"
    assert card.locator('[data-figure="delivery-delivered"]').inner_text() == str(delivered)
    assert card.locator('[data-figure="delivery-target"]').inner_text() == "20"
    assert card.locator('[data-figure="delivery-fit"]').inner_text() == "67 %"
    assert card.get_by_role("progressbar").get_attribute("aria-valuenow") == str(delivered)
    # The card comes before the key figures: the week's delivery is the first thing to see.
    assert card.bounding_box()["y"] < page.locator(".kpis").bounding_box()["y"]
    page.screenshot(path=str(SHOTS / "marketing-home-delivery.png"), full_page=True)
    card.screenshot(path=str(SHOTS / "marketing-home-delivery-card.png"))
    assert errors == []
    context.close()


def test_on_a_phone_the_delivery_card_fits_the_screen(browser, live_server, delivered):
    context, page, errors = _home(
        browser,
        live_server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )

    assert page.locator('[data-scorecard="delivery"]').is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "marketing-home-delivery-phone.png"), full_page=True)
    assert errors == []
    context.close()

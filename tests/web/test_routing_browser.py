"""Routing in a real browser: the routing page and the out-of-office page for a manager (at
1280 px and on a phone), and the lead page's assignment panel, reassigning in place with htmx.
Screenshots go to artifacts/screenshots/routing-*.png."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from leadloop.accounts.models import OutOfOffice, Role
from leadloop.leads.models import Lead
from leadloop.routing.models import AssignmentKind
from leadloop.routing.services import lead_route
from leadloop.web.views.routing import assignment_panel_context
from tests.accounts.factories import UserFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.routing.factories import agreement, away, qualify, rep, sales_team
from tests.web.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def world() -> dict[str, object]:
    """A DACH team of four reps and their manager, rules with caps, a morning of routed MQLs,
    one rep at the daily cap and one away."""
    now = timezone.now()
    team = sales_team("Sales DACH")
    reps = {
        name: rep(name, team=team, last_name=last)
        for name, last in (("ana", "Alves"), ("ben", "Berg"), ("cem", "Celik"), ("dora", "Diaz"))
    }
    meg = UserFactory(
        username="meg", first_name="Meg", last_name="Manager", role=Role.SALES_MANAGER, team=team
    )
    away(reps["ben"], starts_at=now - dt.timedelta(hours=2), ends_at=now + dt.timedelta(days=3))
    terms = agreement(
        rules=[
            {"name": "Named accounts", "kind": "named_account"},
            {
                "name": "Territory DACH",
                "kind": "territory",
                "regions": ["DACH"],
                "reps": [
                    {"username": "ana", "weight": 2},
                    {"username": "ben"},
                    {"username": "cem"},
                ],
            },
            {"name": "Enterprise", "kind": "company_size", "size_min": 1000, "team": "Sales DACH"},
            {"name": "Everyone", "kind": "round_robin", "team": "Sales DACH"},
        ],
        cap_per_day=3,
        cap_per_week=12,
    )
    leads = []
    for i in range(9):
        lead = LeadFactory(
            first_name=(
                "Ada",
                "Grace",
                "Alan",
                "Edsger",
                "Barbara",
                "Donald",
                "Ken",
                "Frances",
                "John",
            )[i],
            last_name="Test",
            country="DE" if i % 3 else "FR",
            company=CompanyFactory(name=f"Company {i}", country="", employee_count=50 + 400 * i),
        )
        change = qualify(lead)
        lead_route(lead_id=lead.pk, agreement=terms, stage_change_id=change.pk)
        leads.append(lead)
    return {"meg": meg, "reps": reps, "leads": leads, "terms": terms}


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def test_a_manager_reads_the_routing_page_and_sets_an_absence(browser, live_server, world):
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _sign_in(page, live_server.url, "meg")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Routing").click()
    page.wait_for_url(f"{live_server.url}/routing/")

    assert page.get_by_role("heading", level=1).inner_text() == "Routing"
    loads = page.locator('[data-table="rep-loads"] tbody tr')
    assert loads.count() == 4
    assert page.locator('[data-rep="ben"] .load-status').inner_text().startswith("Away until")
    assert page.locator('[data-rep="ana"] td').nth(0).inner_text() == "3 / 3"
    assert page.locator('[data-table="rules"] tbody tr').count() == 4
    page.screenshot(path=str(SHOTS / "routing-overview.png"), full_page=True)

    page.get_by_role("link", name="Out of office").first.click()
    page.wait_for_url(f"{live_server.url}/routing/away/")
    page.get_by_label("Who").select_option(label="Cem Celik (Sales DACH)")
    page.get_by_label("Away from").fill("2030-07-01T09:00")
    page.get_by_label("Back at").fill("2030-07-15T09:00")
    page.get_by_label("Note").fill("Summer holiday")
    page.get_by_role("button", name="Save absence").click()
    page.wait_for_load_state()

    assert page.get_by_role("status").inner_text().startswith("Cem Celik is away until 15 Jul 2030")
    assert OutOfOffice.objects.filter(user=world["reps"]["cem"], note="Summer holiday").exists()
    assert page.locator('[data-table="absences"] tbody tr').count() == 2
    page.screenshot(path=str(SHOTS / "routing-away.png"), full_page=True)
    context.close()
    assert errors == []


def test_on_a_phone_the_routing_page_fits_the_screen(browser, live_server, world):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    _sign_in(page, live_server.url, "meg")

    page.goto(f"{live_server.url}/routing/")

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "routing-overview-phone.png"), full_page=True)
    page.goto(f"{live_server.url}/routing/away/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "routing-away-phone.png"), full_page=True)
    context.close()


def test_the_assignment_panel_explains_and_reassigns_in_place(browser, live_server, world):
    """The panel as the lead page includes it: rendered with assignment_panel_context, served
    inside the app's CSS and htmx, posting to the real view."""
    meg = world["meg"]
    lead = next(
        lead
        for lead in world["leads"]
        if lead.assignments.filter(kind=AssignmentKind.ROUTED).exclude(explanation=[]).exists()
    )
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _sign_in(page, live_server.url, "meg")
    page.goto(f"{live_server.url}/routing/away/")  # same origin; sets the CSRF cookie
    secret = next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")
    request = RequestFactory().get("/")
    request.user = meg
    request.META["CSRF_COOKIE"] = secret
    fresh = Lead.objects.select_related("owner", "queue", "company").get(pk=lead.pk)
    panel = render_to_string(
        "web/routing/_panel.html", assignment_panel_context(request, fresh), request=request
    )
    page.set_content(
        '<!doctype html><html class="js"><head>'
        f'<link rel="stylesheet" href="{live_server.url}/static/web/app.css">'
        f'<script src="{live_server.url}/static/web/vendor/htmx.min.js"></script></head>'
        f'<body><main class="main" style="max-width: 760px">{panel}</main></body></html>'
    )
    page.wait_for_function("window.htmx !== undefined")

    page.get_by_text("Why the others were skipped").first.click()
    assert page.locator("[data-skipped] li").first.is_visible()
    page.screenshot(path=str(SHOTS / "routing-panel.png"), full_page=True)

    new_owner = (
        world["reps"]["dora"] if fresh.owner != world["reps"]["dora"] else world["reps"]["cem"]
    )
    page.get_by_label("Hand to").select_option(label=f"{new_owner} (Sales DACH)")
    page.get_by_label("Why").fill("Speaks their language")
    page.get_by_label("Why").press("Enter")
    page.wait_for_selector("[data-assigned]")

    assert page.locator("[data-assigned]").inner_text() == f"Handed to {new_owner}."
    assert page.locator("#assignments [data-owner]").first.inner_text() == str(new_owner)
    fresh.refresh_from_db()
    assert fresh.owner == new_owner
    page.screenshot(path=str(SHOTS / "routing-panel-reassigned.png"), full_page=True)
    context.close()
    assert errors == []

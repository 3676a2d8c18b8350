"""Routing in the browser (Django's test client): the lead page's assignment panel and its
reassign form, the routing page, the out-of-office page, and the navigation."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from leadloop.accounts.models import OutOfOffice, Role
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.routing.services import lead_route
from leadloop.web.views.routing import assignment_panel_context
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.routing.factories import agreement, away, qualify, sales_team
from tests.web.helpers import figure, row, table_rows, text

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# Wednesday 11 March 2026, 11:00 in Berlin.
NOW = dt.datetime(2026, 3, 11, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def dach():
    return sales_team("Sales DACH", "ana", "ben")


@pytest.fixture
def meg(dach):
    return UserFactory(
        username="meg", first_name="Meg", last_name="Manager", role=Role.SALES_MANAGER, team=dach
    )


def _routed_lead(terms):
    lead = LeadFactory(first_name="Ada", last_name="Lovelace")
    change = qualify(lead)
    lead_route(lead_id=lead.pk, agreement=terms, stage_change_id=change.pk)
    lead.refresh_from_db()
    return lead


def _everyone(**routing):
    return agreement(
        rules=[
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": "ana"}, {"username": "ben"}],
            }
        ],
        **routing,
    )


def _panel(user, lead) -> str:
    request = RequestFactory().get("/")
    request.user = user
    return render_to_string(
        "web/routing/_panel.html", assignment_panel_context(request, lead), request=request
    )


def _plain(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# --- The lead page's panel ----------------------------------------------------------------------


def test_the_panel_shows_each_owner_with_the_rule_the_why_and_who_was_skipped(dach, meg):
    away(
        dach.members.get(username="ana"),
        starts_at=NOW,
        ends_at=dt.datetime(2026, 3, 13, 23, tzinfo=UTC),
    )
    lead = _routed_lead(_everyone())

    html = _panel(meg, lead)

    words = _plain(html)
    assert "Ben Routed by a rule" in words
    assert "rule Everyone" in words
    assert "Everyone: round robin, Ben's turn" in words
    assert "Why the others were skipped (1)" in words
    assert "Ana: out of office until 2026-03-14" in words
    assert 'id="assign-form"' in html  # a manager of the team may reassign


def test_the_panel_has_no_reassign_form_for_a_rep(dach):
    lead = _routed_lead(_everyone())

    html = _panel(dach.members.get(username="ben"), lead)

    assert 'id="assignments"' in html
    assert 'id="assign-form"' not in html


def test_a_manager_reassigns_with_htmx_and_gets_the_refreshed_panel(client, dach, meg):
    lead = _routed_lead(_everyone())  # Ana's turn first
    ben = dach.members.get(username="ben")
    client.force_login(meg)

    response = client.post(
        reverse("web:lead_assign", args=[lead.pk]),
        {"to": f"user:{ben.pk}", "why": "Ben speaks their language"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "lead-assigned"
    words = _plain(text(response))
    assert "Handed to Ben." in words
    assert "Ben Reassigned by hand" in words
    assert "by Meg Manager" in words
    assert 'id="lead-facts" hx-swap-oob="true"' in text(response)
    lead.refresh_from_db()
    assert lead.owner == ben
    assert Assignment.objects.filter(lead=lead, kind=AssignmentKind.MANUAL, actor=meg).count() == 1


def test_a_reassignment_without_why_shows_the_error_beside_the_field(client, dach, meg):
    lead = _routed_lead(_everyone())
    client.force_login(meg)

    response = client.post(
        reverse("web:lead_assign", args=[lead.pk]),
        {"to": f"queue:{dach.pk}", "why": ""},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert 'id="assign-why_error">Say why the lead is reassigned.</p>' in text(response)
    assert Assignment.objects.filter(lead=lead).count() == 1


def test_a_rep_who_posts_a_reassignment_is_told_why_not(client, dach):
    lead = _routed_lead(_everyone())
    client.force_login(dach.members.get(username="ana"))

    response = client.post(
        reverse("web:lead_assign", args=[lead.pk]),
        {"to": "user:1", "why": "mine"},
        HTTP_HX_REQUEST="true",
    )

    assert "Your role (Sales rep) may not reassign leads" in text(response)
    assert Assignment.objects.filter(lead=lead).count() == 1


def test_without_htmx_a_reassignment_returns_to_the_lead_page(client, dach, meg):
    lead = _routed_lead(_everyone())
    client.force_login(meg)

    response = client.post(
        reverse("web:lead_assign", args=[lead.pk]),
        {"to": f"queue:{dach.pk}", "why": "Pool it"},
        follow=False,
    )

    assert response.status_code == 302
    assert response["Location"] == lead.get_absolute_url()
    lead.refresh_from_db()
    assert (lead.owner, lead.queue) == (None, dach)


# --- The routing page ---------------------------------------------------------------------------


def test_the_routing_page_shows_loads_against_caps_absences_and_rules(client, dach, meg):
    terms = _everyone(cap_per_day=2, cap_per_week=10)
    for _ in range(4):
        _routed_lead(terms)
    _routed_lead(terms)  # both at the daily cap: the fallback queue
    away(
        dach.members.get(username="ben"),
        starts_at=NOW,
        ends_at=dt.datetime(2026, 3, 12, 16, tzinfo=UTC),
    )
    client.force_login(meg)

    response = client.get(reverse("web:routing"))

    assert response.status_code == 200
    assert row(response, "rep-loads", "rep", "ana") == ["Ana", "2 / 2", "2 / 10", "Daily cap"]
    assert row(response, "rep-loads", "rep", "ben") == [
        "Ben",
        "2 / 2",
        "2 / 10",
        "Away until 12 Mar, 17:00",
    ]
    assert row(response, "rules", "rule", "Everyone") == [
        "1",
        "Everyone",
        "Round robin",
        "4",
        "every lead -> ana, ben",
    ]
    assert figure(response, "fallback-leads") == "1"
    assert figure(response, "away-now") == "1"
    assert figure(response, "routed-week") == "4"


def test_an_admin_sees_every_team_and_can_narrow_to_one(client, dach):
    sales_team("Sales Nordics", "ola")
    agreement()
    client.force_login(UserFactory(role=Role.ADMIN))

    everyone = client.get(reverse("web:routing"))
    nordics = client.get(reverse("web:routing"), {"team": dach.pk})

    assert [r[0] for r in table_rows(everyone, "rep-loads")] == ["Ana", "Ben", "Ola"]
    assert [r[0] for r in table_rows(nordics, "rep-loads")] == ["Ana", "Ben"]


def test_the_routing_page_is_for_managers_leaders_and_admins(client, dach):
    client.force_login(dach.members.get(username="ana"))

    assert client.get(reverse("web:routing")).status_code == 403


def test_the_navigation_shows_routing_to_managers_and_out_of_office_to_everyone(client, dach, meg):
    agreement()
    client.force_login(meg)
    as_manager = text(client.get(reverse("web:routing_away")))
    client.force_login(dach.members.get(username="ana"))
    as_rep = text(client.get(reverse("web:routing_away")))

    assert f'href="{reverse("web:routing")}"' in as_manager
    assert f'href="{reverse("web:routing")}"' not in as_rep
    assert ">Out of office</a>" in as_rep


# --- Out of office ------------------------------------------------------------------------------


def test_a_rep_sets_their_absence_in_their_local_time(client, dach):
    ana = dach.members.get(username="ana")
    client.force_login(ana)

    response = client.post(
        reverse("web:routing_away"),
        {
            "user": ana.pk,
            "starts_at": "2026-03-16T09:00",
            "ends_at": "2026-03-20T18:00",
            "note": "Ski",
        },
    )

    assert response.status_code == 302
    absence = OutOfOffice.objects.get()
    # Berlin is UTC+1 in March.
    assert (absence.user, absence.starts_at, absence.ends_at, absence.note) == (
        ana,
        dt.datetime(2026, 3, 16, 8, tzinfo=UTC),
        dt.datetime(2026, 3, 20, 17, tzinfo=UTC),
        "Ski",
    )
    listed = client.get(reverse("web:routing_away"))
    assert row(listed, "absences", "absence", str(absence.pk))[:3] == [
        "Ana",
        "Mon 16 Mar 2026 09:00",
        "Fri 20 Mar 2026 18:00",
    ]


def test_an_absence_that_ends_before_it_starts_is_refused_beside_the_field(client, dach):
    ana = dach.members.get(username="ana")
    client.force_login(ana)

    response = client.post(
        reverse("web:routing_away"),
        {"user": ana.pk, "starts_at": "2026-03-16T09:00", "ends_at": "2026-03-16T08:00"},
    )

    assert response.status_code == 400
    assert 'id="away-ends_at_error">Must be after the start (16 Mar 2026, 09:00).</p>' in text(
        response
    )
    assert not OutOfOffice.objects.exists()


def test_a_manager_sets_a_team_members_absence_and_a_rep_cannot_pick_others(client, dach, meg):
    ben = dach.members.get(username="ben")
    client.force_login(meg)

    client.post(
        reverse("web:routing_away"),
        {"user": ben.pk, "starts_at": "2026-03-16T09:00", "ends_at": "2026-03-17T09:00"},
    )
    client.force_login(dach.members.get(username="ana"))
    refused = client.post(
        reverse("web:routing_away"),
        {"user": ben.pk, "starts_at": "2026-03-18T09:00", "ends_at": "2026-03-19T09:00"},
    )

    assert OutOfOffice.objects.get().user == ben
    assert refused.status_code == 400
    assert OutOfOffice.objects.count() == 1


def test_ending_an_absence_going_on_ends_it_now(client, dach):
    ana = dach.members.get(username="ana")
    absence = away(ana, starts_at=NOW - dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=3))
    client.force_login(ana)

    response = client.post(reverse("web:routing_away_end", args=[absence.pk]))

    assert response.status_code == 302
    absence.refresh_from_db()
    assert absence.ends_at == NOW

"""The rep's inbox on the home page and the manager's team clocks: order, countdown states,
who sees what, the polled list, and one-click answers that swap their row."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leadloop.accounts.models import Role
from leadloop.capture.models import TouchKind
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.scoring.models import LeadScore
from leadloop.scoring.rules import epoch_weight
from leadloop.sla.models import ClockKind, ClockOutcome, SlaClock
from leadloop.sla.services import clocks_on_assignment
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory
from tests.sla.factories import assign, mql, person, sales_team, to_queue
from tests.web.helpers import figure, text

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
HTMX = {"HX-Request": "true"}
NOW = dt.datetime(2026, 3, 3, 10, tzinfo=BERLIN)  # Tuesday


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def dach() -> Any:
    return sales_team("Sales DACH")


@pytest.fixture
def ana(client, dach) -> Any:
    return person("ana", team=dach, last_name="Alvarez")


def _clocked(rep: Any, at: dt.datetime, **lead: Any) -> Lead:
    """An MQL handed to `rep` at `at`, its first-response clock running (16 business hours)."""
    with time_machine.travel(at, tick=False):
        clock = clocks_on_assignment(assignment_id=assign(mql(**lead), rep).pk).started[0]
    return clock.lead


def _rows(response) -> list[tuple[str, str]]:
    """(lead id, countdown state) of each inbox row, top to bottom."""
    return re.findall(r'<tr id="inbox-row-(\d+)"[^>]*data-state="([a-z]+)"', text(response))


def _row(response, lead: Lead) -> str:
    page = text(response)
    start = page.index(f'id="inbox-row-{lead.pk}"')
    return page[start : page.index("</tr>", start)]


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


# --- The list ---------------------------------------------------------------------------------------


def test_the_reps_home_lists_their_leads_soonest_due_first_with_green_amber_and_red(
    client, ana, now
):
    amber = _clocked(ana, berlin(2026, 3, 2, 10))  # 7.5 of 16 business hours left
    green = _clocked(ana, berlin(2026, 3, 3, 9))  # 15 left
    red = _clocked(ana, berlin(2026, 2, 27, 10))  # due Monday 17:30: 1 hour late
    client.force_login(ana)

    response = client.get(reverse("web:dashboard"))

    assert _rows(response) == [
        (str(red.pk), "red"),
        (str(amber.pk), "amber"),
        (str(green.pk), "green"),
    ]
    assert re.search(r"data-countdown>\s*1 h late<", _row(response, red))
    assert re.search(r"data-countdown>\s*7.5 h left<", _row(response, amber))
    assert "due <time" in _row(response, green)
    assert figure(response, "inbox-count").startswith("3 waiting for your answer")
    assert '<span class="inbox__late">1 late</span>' in text(response)


def test_a_row_shows_company_fit_engagement_predicted_source_and_what_the_lead_did_last(
    client, ana, now
):
    lead = _clocked(
        ana, berlin(2026, 3, 2, 10), first_name="Ada", last_name="Lovelace",
        company=CompanyFactory(name="Analytical Engines"), source="webinar",
    )  # fmt: skip
    LeadScore.objects.create(
        lead=lead, fit_score=82, fit_grade="A",
        engagement_sum=50 * epoch_weight(NOW, 30.0), predicted_probability=0.31,
    )  # fmt: skip
    TouchFactory(lead=lead, kind=TouchKind.WEBINAR, occurred_at=NOW - dt.timedelta(days=2))
    client.force_login(ana)

    row = _row(client.get(reverse("web:dashboard")), lead)

    assert "Ada Lovelace" in row
    assert "Analytical Engines" in row
    assert re.search(r"data-fit>A<", row)
    assert re.search(r"data-engagement>63<", row)
    assert re.search(r"data-predicted>31 %<", row)
    assert "Webinar" in row
    assert "Webinar attendance" in row
    assert "2 d ago" in row


def test_a_rep_sees_only_their_own_leads(client, ana, dach, now):
    mine = _clocked(ana, berlin(2026, 3, 2, 10))
    theirs = _clocked(person("ben", team=dach), berlin(2026, 3, 2, 9))
    client.force_login(ana)

    response = client.get(reverse("web:dashboard"))

    assert _rows(response) == [(str(mine.pk), "amber")]
    assert f"inbox-row-{theirs.pk}" not in text(response)


def test_a_rep_without_leads_to_answer_is_told_what_happens_next(client, ana, now):
    client.force_login(ana)

    response = client.get(reverse("web:dashboard"))

    assert "No leads waiting for your answer" in text(response)
    assert "New MQLs routed to you appear here" in text(response)


def test_the_polled_list_is_the_inbox_alone_and_picks_up_a_new_mql(client, ana, now):
    first = _clocked(ana, berlin(2026, 3, 2, 10))
    client.force_login(ana)
    before = client.get(reverse("web:inbox"), headers=HTMX)
    arrived = _clocked(ana, berlin(2026, 3, 2, 9))

    after = client.get(reverse("web:inbox"), headers=HTMX)

    assert "<html" not in text(after)
    assert 'id="inbox-body"' in text(after)
    assert "every 45s" in text(after)
    assert _rows(before) == [(str(first.pk), "amber")]
    assert _rows(after) == [(str(arrived.pk), "amber"), (str(first.pk), "amber")]


def test_the_polled_list_without_htmx_sends_the_browser_home(client, ana):
    client.force_login(ana)

    response = client.get(reverse("web:inbox"))

    assert response.status_code == 302
    assert response["Location"] == reverse("web:dashboard")


# --- Answers ----------------------------------------------------------------------------------------


def test_accepting_from_the_inbox_makes_the_lead_a_sal_and_returns_its_new_row(client, ana, now):
    lead = _clocked(ana, berlin(2026, 3, 2, 10))
    client.force_login(ana)

    response = client.post(reverse("web:inbox_accept", args=[lead.pk]), headers=HTMX)

    lead.refresh_from_db()
    assert lead.stage == Stage.SAL
    body = text(response)
    assert body.lstrip().startswith(f'<tr id="inbox-row-{lead.pk}"')
    assert "Accepted: now SAL." in body
    assert "Contact attempt" in body  # the SAL's clock now counts down
    assert "data-accept" not in body  # nothing to accept any more; reject stays open
    assert "data-reject" in body
    first = SlaClock.objects.get(lead=lead, kind=ClockKind.FIRST_RESPONSE)
    assert first.outcome == ClockOutcome.MET
    assert response["HX-Trigger"] == "lead-moved"


def test_rejecting_from_the_inbox_with_a_reason_and_note_returns_a_done_row(client, ana, now):
    lead = _clocked(ana, berlin(2026, 3, 2, 10), first_name="Bob", last_name="Builder")
    client.force_login(ana)

    response = client.post(
        reverse("web:inbox_reject", args=[lead.pk]),
        {"reason": "not_now", "note": "Budget frozen until Q3."},
        headers=HTMX,
    )

    lead.refresh_from_db()
    assert (lead.stage, lead.owner_id) == (Stage.NURTURE, None)
    change = StageChange.objects.filter(lead=lead).latest("at")
    assert (change.reason, change.note, change.actor) == ("not_now", "Budget frozen until Q3.", ana)
    body = text(response)
    assert 'data-state="done"' in body
    assert "Bob Builder" in body
    assert "Rejected: Not now - back to nurture, may re-qualify after 90 days." in body


def test_rejecting_without_a_reason_shows_the_error_in_the_row(client, ana, now):
    lead = _clocked(ana, berlin(2026, 3, 2, 10))
    client.force_login(ana)

    response = client.post(reverse("web:inbox_reject", args=[lead.pk]), {}, headers=HTMX)

    assert response.status_code == 200
    body = text(response)
    assert "Moving a lead from MQL to Nurture needs a reason." in body
    assert "data-row-error" in body
    assert "data-accept" in body
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


def test_rejecting_as_a_duplicate_of_an_unknown_lead_names_it_in_the_row(client, ana, now):
    lead = _clocked(ana, berlin(2026, 3, 2, 10))
    client.force_login(ana)

    response = client.post(
        reverse("web:inbox_reject", args=[lead.pk]),
        {"reason": "duplicate", "duplicate_of": "nobody@example.com"},
        headers=HTMX,
    )

    assert "No lead with the e-mail or id &#x27;nobody@example.com&#x27;." in text(response)


def test_a_rep_cannot_accept_another_reps_lead_and_is_told_why_in_the_row(client, ana, dach, now):
    theirs = _clocked(person("ben", team=dach), berlin(2026, 3, 2, 10))
    client.force_login(ana)

    response = client.post(reverse("web:inbox_accept", args=[theirs.pk]), headers=HTMX)

    assert "A sales rep can only move the leads they own." in text(response)
    theirs.refresh_from_db()
    assert theirs.stage == Stage.MQL


def test_without_htmx_an_answer_goes_home_with_a_message(client, ana, now):
    lead = _clocked(ana, berlin(2026, 3, 2, 10))
    client.force_login(ana)

    response = client.post(reverse("web:inbox_accept", args=[lead.pk]), follow=True)

    assert response.redirect_chain[-1][0] == reverse("web:dashboard")
    assert f"{lead}: Accepted: now SAL." in text(response)


# --- The manager ------------------------------------------------------------------------------------


def test_a_manager_sees_the_teams_clocks_per_rep_with_the_queue_first(client, ana, dach, now):
    meg = person("meg", team=dach, role=Role.SALES_MANAGER)
    ben = person("ben", team=dach)
    anas = _clocked(ana, berlin(2026, 3, 2, 12))
    bens = _clocked(ben, berlin(2026, 3, 2, 10))
    late = _clocked(ben, berlin(2026, 2, 27, 10))
    with time_machine.travel(berlin(2026, 3, 3, 9), tick=False):
        queued = clocks_on_assignment(assignment_id=to_queue(mql(), dach).pk).started[0].lead
    outsider = _clocked(person("nils", team=sales_team("Sales Nordics")), berlin(2026, 3, 2, 9))
    client.force_login(meg)

    response = client.get(reverse("web:dashboard"))

    page = text(response)
    assert "Your team's open clocks" in page
    assert re.findall(r'data-holder="([^"]+)"', page) == ["queue", str(ben.pk), str(ana.pk)]
    assert [lead for lead, _ in _rows(response)] == [
        str(queued.pk), str(late.pk), str(bens.pk), str(anas.pk),
    ]  # fmt: skip
    assert dict(_rows(response))[str(late.pk)] == "red"
    assert f"inbox-row-{outsider.pk}" not in page
    assert "4 open clocks in Sales DACH" in figure(response, "team-clocks-count")
    assert "data-accept" in _row(response, bens)  # a manager may answer for the team


def test_the_managers_team_clocks_are_polled_alone(client, ana, dach, now):
    meg = person("meg", team=dach, role=Role.SALES_MANAGER)
    lead = _clocked(ana, berlin(2026, 3, 2, 10))
    client.force_login(meg)

    response = client.get(reverse("web:inbox_team"), headers=HTMX)

    assert 'id="team-clocks-body"' in text(response)
    assert _rows(response) == [(str(lead.pk), "amber")]


def test_a_manager_whose_team_has_no_clocks_is_told_where_they_come_from(client, dach, now):
    client.force_login(person("meg", team=dach, role=Role.SALES_MANAGER))

    response = client.get(reverse("web:dashboard"))

    assert "No open clocks in your team" in text(response)


def test_the_inbox_costs_the_same_queries_for_two_leads_or_six(client, ana, now):

    for hour in (9, 10):
        _clocked(ana, berlin(2026, 3, 2, hour))
    client.force_login(ana)
    client.get(reverse("web:inbox"), headers=HTMX)  # warm the per-process caches
    with CaptureQueriesContext(connection) as two:
        client.get(reverse("web:inbox"), headers=HTMX)
    for hour in (11, 12, 13, 14):
        _clocked(ana, berlin(2026, 3, 2, hour))

    with CaptureQueriesContext(connection) as six:
        response = client.get(reverse("web:inbox"), headers=HTMX)

    assert len(_rows(response)) == 6
    assert len(six.captured_queries) == len(two.captured_queries)

"""Clocks start, stop and restart from assignments, stage changes, touches and absences."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings

from leadloop.accounts.models import Role, TeamKind
from leadloop.capture.models import TouchKind
from leadloop.leads.models import Stage
from leadloop.routing.models import AssignmentKind
from leadloop.sla.models import ClockKind, ClockOutcome, SlaClock
from leadloop.sla.services import (
    clocks_on_assignment,
    clocks_on_out_of_office,
    clocks_on_stage_change,
    clocks_on_touch,
)
from tests.accounts.factories import TeamFactory
from tests.capture.factories import TouchFactory
from tests.sla.factories import (
    assign,
    away,
    move,
    mql,
    person,
    sales_team,
    sla_agreement,
    to_queue,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(berlin(2026, 3, 6, 16), tick=False) as traveller:  # a Friday
        yield traveller


@pytest.fixture
def team() -> Any:
    return sales_team()


@pytest.fixture
def ana(team: Any) -> Any:
    return person("ana", team=team)


@pytest.fixture
def ben(team: Any) -> Any:
    return person("ben", team=team)


@pytest.fixture(autouse=True)
def agreement() -> Any:
    return sla_agreement()


def _assigned(lead: Any, rep: Any) -> Any:
    return clocks_on_assignment(assignment_id=assign(lead, rep).pk)


def test_an_mql_assigned_to_a_rep_starts_a_first_response_clock_in_business_hours(clock, ana):
    lead = mql()

    changes = _assigned(lead, ana)

    (started,) = changes.started
    assert (started.kind, started.owner, started.team, started.cycle) == (
        ClockKind.FIRST_RESPONSE, ana, ana.team, 1,
    )  # fmt: skip
    assert started.started_at == berlin(2026, 3, 6, 16)
    assert started.due_at == berlin(2026, 3, 10, 15)  # 16 business hours: Tuesday 15:00
    assert started.remind_at == berlin(2026, 3, 10, 13)
    assert (started.budget_label, started.agreement_version) == ("16 business hours", 1)
    assert started.outcome == ClockOutcome.OPEN


def test_an_mql_assigned_before_easter_is_due_after_easter_monday(clock, ana):
    clock.move_to(berlin(2026, 4, 2, 16))  # Thursday before Good Friday

    (started,) = _assigned(mql(), ana).started

    assert started.due_at == berlin(2026, 4, 8, 15)  # Wednesday: Friday and Monday are holidays


def test_an_mql_assigned_at_0300_counts_from_the_opening(clock, ana):
    clock.move_to(berlin(2026, 3, 9, 3))

    (started,) = _assigned(mql(), ana).started

    assert (started.started_at, started.due_at) == (
        berlin(2026, 3, 9, 3),
        berlin(2026, 3, 10, 16, 30),
    )


def test_a_second_call_for_the_same_assignment_starts_nothing_new(clock, ana):
    assignment = assign(mql(), ana)
    first = clocks_on_assignment(assignment_id=assignment.pk)

    again = clocks_on_assignment(assignment_id=assignment.pk)

    assert again.started == first.started
    assert SlaClock.objects.count() == 1


def test_reassigning_before_the_due_time_closes_the_old_clock_and_restarts_it(clock, ana, ben):
    lead = mql()
    (old,) = _assigned(lead, ana).started
    clock.move_to(berlin(2026, 3, 9, 10))

    changes = _assigned(lead, ben)

    old.refresh_from_db()
    assert (old.outcome, old.stopped_at, old.breached_at) == (
        ClockOutcome.REASSIGNED, berlin(2026, 3, 9, 10), None,
    )  # fmt: skip
    assert old.stop_cause == "reassigned to Ben"
    (new,) = changes.started
    assert (new.owner, new.kind, new.started_at) == (
        ben,
        ClockKind.FIRST_RESPONSE,
        berlin(2026, 3, 9, 10),
    )
    assert new.due_at == berlin(2026, 3, 10, 17, 30)  # a full 16 hours for Ben


def test_reassigning_a_late_lead_records_the_breach_for_the_old_owner(clock, ana, ben):
    lead = mql()
    (old,) = _assigned(lead, ana).started
    clock.move_to(berlin(2026, 3, 11, 9, 30))

    _assigned(lead, ben)

    old.refresh_from_db()
    assert (old.outcome, old.breached_at, old.owner) == (ClockOutcome.BREACHED, old.due_at, ana)
    assert not old.goal_reached


def test_an_older_assignment_handled_late_starts_nothing(clock, ana, ben):
    lead = mql()
    first = assign(lead, ana)
    clocks_on_assignment(assignment_id=assign(lead, ben).pk)

    late = clocks_on_assignment(assignment_id=first.pk)

    assert late.started == []
    assert late.stopped == []
    assert list(SlaClock.objects.values_list("owner__username", flat=True)) == ["ben"]


def test_accepting_stops_the_first_response_as_met_and_starts_contact_and_decision(clock, ana):
    lead = mql()
    (first,) = _assigned(lead, ana).started
    clock.move_to(berlin(2026, 3, 9, 11))
    change = move(lead, Stage.SAL)

    changes = clocks_on_stage_change(change_id=change.pk)

    first.refresh_from_db()
    assert (first.outcome, first.stopped_at, first.goal_reached) == (
        ClockOutcome.MET, berlin(2026, 3, 9, 11), True,
    )  # fmt: skip
    assert first.stop_cause == "MQL to SAL"
    assert changes.stopped == [first]
    contact, decision = changes.started
    assert (contact.kind, contact.owner, contact.due_at) == (
        ClockKind.CONTACT_ATTEMPT, ana, berlin(2026, 3, 10, 10, 30),  # 8 business hours
    )  # fmt: skip
    assert (decision.kind, decision.due_at, decision.budget_label) == (
        ClockKind.DECISION, berlin(2026, 3, 16, 11), "5 business days",
    )  # fmt: skip


def test_rejecting_after_the_due_time_is_a_breach(clock, ana):
    lead = mql()
    (first,) = _assigned(lead, ana).started
    clock.move_to(berlin(2026, 3, 10, 15, 1))

    clocks_on_stage_change(change_id=move(lead, Stage.NURTURE, reason="not_now").pk)

    first.refresh_from_db()
    assert (first.outcome, first.breached_at, first.goal_reached) == (
        ClockOutcome.BREACHED, berlin(2026, 3, 10, 15), True,
    )  # fmt: skip


def test_answering_exactly_at_the_due_time_meets_it(clock, ana):
    lead = mql()
    (first,) = _assigned(lead, ana).started
    clock.move_to(first.due_at)

    clocks_on_stage_change(change_id=move(lead, Stage.SAL).pk)

    first.refresh_from_db()
    assert first.outcome == ClockOutcome.MET


def test_a_breach_the_sweep_flagged_stays_a_breach_when_an_earlier_answer_arrives(clock, ana):
    lead = mql()
    (first,) = _assigned(lead, ana).started
    SlaClock.objects.filter(pk=first.pk).update(
        breach_handled_at=first.due_at, outcome=ClockOutcome.BREACHED, breached_at=first.due_at
    )
    clock.move_to(berlin(2026, 3, 10, 16))

    clocks_on_stage_change(change_id=move(lead, Stage.SAL, at=berlin(2026, 3, 10, 12)).pk)

    first.refresh_from_db()
    assert (first.outcome, first.stopped_at) == (ClockOutcome.BREACHED, berlin(2026, 3, 10, 12))


def _sal(lead: Any, rep: Any) -> list[SlaClock]:
    _assigned(lead, rep)
    return clocks_on_stage_change(change_id=move(lead, Stage.SAL).pk).started


def test_an_outbound_call_is_the_contact_attempt(clock, ana):
    lead = mql()
    contact, decision = _sal(lead, ana)
    touch = TouchFactory(
        lead=lead, kind=TouchKind.OUTBOUND_CALL, occurred_at=berlin(2026, 3, 9, 9, 30)
    )

    changes = clocks_on_touch(touch_id=touch.pk)

    contact.refresh_from_db()
    assert changes.stopped == [contact]
    assert (contact.outcome, contact.stopped_at, contact.stop_cause) == (
        ClockOutcome.MET, berlin(2026, 3, 9, 9, 30), "contact attempt: outbound call",
    )  # fmt: skip
    decision.refresh_from_db()
    assert decision.running


@pytest.mark.parametrize("kind", [TouchKind.PAGE_VISIT, TouchKind.EMAIL_OPEN, TouchKind.FORM_FILL])
def test_a_marketing_touch_is_no_contact_attempt(clock, ana, kind):
    lead = mql()
    contact, _decision = _sal(lead, ana)

    changes = clocks_on_touch(touch_id=TouchFactory(lead=lead, kind=kind).pk)

    contact.refresh_from_db()
    assert changes.stopped == []
    assert contact.running


def test_a_call_logged_before_the_lead_was_accepted_does_not_count(clock, ana):
    lead = mql()
    contact, _decision = _sal(lead, ana)
    touch = TouchFactory(lead=lead, kind=TouchKind.MEETING, occurred_at=berlin(2026, 3, 5, 10))

    clocks_on_touch(touch_id=touch.pk)

    contact.refresh_from_db()
    assert contact.running


def test_qualifying_a_sal_stops_its_decision_clock(clock, ana):
    lead = mql()
    _contact, decision = _sal(lead, ana)
    clock.move_to(berlin(2026, 3, 11, 12))

    changes = clocks_on_stage_change(change_id=move(lead, Stage.SQL).pk)

    decision.refresh_from_db()
    assert (decision.outcome, decision.stopped_at) == (ClockOutcome.MET, berlin(2026, 3, 11, 12))
    assert {c.kind for c in changes.stopped} == {ClockKind.DECISION, ClockKind.CONTACT_ATTEMPT}
    assert changes.started == []


def test_reassigning_a_sal_restarts_its_running_clocks_for_the_new_owner(clock, ana, ben):
    lead = mql()
    _contact, decision = _sal(lead, ana)
    clocks_on_touch(touch_id=TouchFactory(lead=lead, kind=TouchKind.SALES_EMAIL).pk)
    clock.move_to(berlin(2026, 3, 9, 10))

    changes = _assigned(lead, ben)

    assert [(c.kind, c.owner) for c in changes.started] == [(ClockKind.DECISION, ben)]
    decision.refresh_from_db()
    assert decision.outcome == ClockOutcome.REASSIGNED


def test_returning_a_lead_to_the_marketing_queue_cancels_its_running_clocks(clock, ana):
    lead = mql()
    (first,) = _assigned(lead, ana).started
    marketing = TeamFactory(name="Marketing", kind=TeamKind.MARKETING)

    changes = clocks_on_assignment(
        assignment_id=to_queue(lead, marketing, AssignmentKind.RETURNED).pk
    )

    first.refresh_from_db()
    assert (changes.started, first.outcome) == ([], ClockOutcome.CANCELLED)
    assert first.stop_cause == "returned to Marketing"


def test_the_return_after_a_rejection_leaves_the_answer_as_met(clock, ana):
    lead = mql()
    (first,) = _assigned(lead, ana).started
    move(lead, Stage.NURTURE, reason="not_now")
    marketing = TeamFactory(name="Marketing", kind=TeamKind.MARKETING)

    # The hooks in the other order: the assignment first, the stage change after.
    clocks_on_assignment(assignment_id=to_queue(lead, marketing, AssignmentKind.RETURNED).pk)

    first.refresh_from_db()
    assert (first.outcome, first.stop_cause) == (ClockOutcome.MET, "MQL to Nurture")


def test_an_mql_in_a_sales_queue_gets_a_clock_held_by_the_team(clock, team):
    lead = mql()

    (started,) = clocks_on_assignment(assignment_id=to_queue(lead, team).pk).started

    assert (started.owner, started.team, started.kind) == (None, team, ClockKind.FIRST_RESPONSE)
    assert not started.pauses


def test_a_manager_handing_a_queued_lead_on_closes_the_team_clock(clock, team, ana):
    lead = mql()
    (queued,) = clocks_on_assignment(assignment_id=to_queue(lead, team).pk).started

    (started,) = _assigned(lead, ana).started

    queued.refresh_from_db()
    assert (queued.outcome, started.owner) == (ClockOutcome.REASSIGNED, ana)


def test_the_clock_does_not_run_while_the_owner_is_out_of_office(clock, ana):
    away(ana, berlin(2026, 3, 9, 9), berlin(2026, 3, 9, 13))  # Monday morning

    (started,) = _assigned(mql(), ana).started

    assert started.pauses
    assert started.paused == dt.timedelta(hours=4)
    assert started.due_at == berlin(2026, 3, 11, 10, 30)  # Tuesday 15:00 + 4 business hours


def test_an_absence_entered_later_moves_the_due_time(clock, ana):
    (started,) = _assigned(mql(), ana).started
    away(ana, berlin(2026, 3, 9, 0), berlin(2026, 3, 10, 0))  # all of Monday

    moved = clocks_on_out_of_office(user_id=ana.pk)

    started.refresh_from_db()
    assert moved == [started]
    assert started.due_at == berlin(2026, 3, 11, 15)
    assert started.remind_at == berlin(2026, 3, 11, 13)
    assert started.paused == dt.timedelta(hours=8.5)


def test_ending_an_absence_early_brings_the_due_time_back(clock, ana):
    absence = away(ana, berlin(2026, 3, 9, 0), berlin(2026, 3, 10, 0))
    (started,) = _assigned(mql(), ana).started
    absence.ends_at = berlin(2026, 3, 9, 10)
    absence.save()

    clocks_on_out_of_office(user_id=ana.pk)

    started.refresh_from_db()
    assert (started.due_at, started.paused) == (berlin(2026, 3, 10, 16), dt.timedelta(hours=1))


def test_clocks_do_not_pause_when_the_agreement_says_so(clock, ana):
    sla_agreement(pause_when_out_of_office=False)
    away(ana, berlin(2026, 3, 9, 9), berlin(2026, 3, 9, 13))

    (started,) = _assigned(mql(), ana).started

    assert (started.pauses, started.due_at) == (False, berlin(2026, 3, 10, 15))
    assert clocks_on_out_of_office(user_id=ana.pk) == []


@override_settings(LEADLOOP_DEFAULT_TIME_ZONE="America/New_York")
def test_a_rep_without_a_team_counts_in_the_default_calendar(clock):
    loner = person("loner", role=Role.SALES_MANAGER)

    (started,) = _assigned(mql(), loner).started

    # Friday 10:00 in New York: 7.5 h on Friday, 8.5 h on Monday: Tuesday 09:00 + 0 h.
    ny = ZoneInfo("America/New_York")
    assert started.team is None
    assert started.due_at == dt.datetime(2026, 3, 9, 17, 30, tzinfo=ny).astimezone(UTC)

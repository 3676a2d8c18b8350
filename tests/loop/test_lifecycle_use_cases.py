"""The lifecycle use cases: qualify, hand off, answer with a reason, nurture, re-qualify."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import override_settings

from leadloop.accounts.models import Role, TeamKind
from leadloop.agreements.defaults import DEFAULT_BODY
from leadloop.agreements.models import AgreementStatus, AgreementVersion
from leadloop.capture.models import TouchKind
from leadloop.capture.services import TouchInput
from leadloop.common.errors import PermissionDenied
from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import LeadData
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import ReasonRequired, TransitionNotAllowed
from leadloop.loop.lifecycle import (
    DuplicateOfRequired,
    ReasonUnknown,
    handoff_deliver_now,
    lead_accept,
    lead_lose,
    lead_move,
    lead_qualify,
    lead_qualify_if_due,
    lead_reassign,
    lead_reject,
    lead_route_qualified,
    leads_qualify_due,
    out_of_office_set,
)
from leadloop.loop.merge import lead_merge
from leadloop.loop.services import lead_capture
from leadloop.loop.tasks import route_qualified
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.scoring.models import LeadScore
from leadloop.sla.models import SlaClock
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # a Monday
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def clock() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sales() -> Any:
    team = TeamFactory(name="Sales", kind=TeamKind.SALES)
    return [UserFactory(username=f"rep{i}", role=Role.SALES_REP, team=team) for i in range(2)]


def _marketing() -> Any:
    return TeamFactory(name="Marketing", kind=TeamKind.MARKETING)


def _lead(stage: Stage = Stage.LEAD, **kwargs: Any) -> Lead:
    return LeadFactory(stage=stage, queue=_marketing(), **kwargs)


def _agreement(**changes: Any) -> AgreementVersion:
    body = {**DEFAULT_BODY, **changes}
    return AgreementVersion.objects.create(
        number=1, title="Test", body=body, status=AgreementStatus.IN_FORCE, effective_at=NOW
    )


def _owned_mql(rep: Any) -> Lead:
    return LeadFactory(stage=Stage.MQL, owner=rep, cycle=1)


def test_qualifying_records_the_agreement_version_and_hands_off_in_the_same_transaction():
    lead = _lead()  # no sales reps yet: the agreement's fallback queue

    change = lead_qualify(lead_id=lead.pk, actor=None, rule="score thresholds")

    lead.refresh_from_db()
    assert (lead.stage, lead.cycle, lead.queue.name, lead.owner) == (Stage.MQL, 1, "Sales", None)
    assert (change.rule, change.agreement_version, change.actor) == ("score thresholds", 1, None)
    assignment = Assignment.objects.get(lead=lead)
    assert (assignment.stage_change, assignment.kind) == (change, AssignmentKind.FALLBACK)


def test_instant_hand_off_routes_the_mql_to_a_rep_before_commit(
    sales: Any, django_capture_on_commit_callbacks: Any
):
    lead = _lead()

    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        change = lead_qualify(lead_id=lead.pk, actor=None)
        lead.refresh_from_db()
        assignment = Assignment.objects.get(lead=lead)

    assert lead.owner in sales
    assert lead.queue is None
    assert (assignment.stage_change, assignment.kind, assignment.agreement_version) == (
        change,
        AssignmentKind.ROUTED,
        1,
    )
    # No routing task to wait for (webhook deliveries may still follow the commit).
    assert not [c for c in after_commit if getattr(c, "func", None) == route_qualified.enqueue]


def test_a_qualification_in_a_batch_is_routed_after_commit(
    sales: Any, django_capture_on_commit_callbacks: Any
):
    lead = _lead()

    with override_settings(TASKS=IMMEDIATE), django_capture_on_commit_callbacks(execute=True):
        change = lead_qualify(lead_id=lead.pk, actor=None, route_after_commit=True)
        lead.refresh_from_db()
        assert (lead.owner, lead.queue.name) == (None, "Marketing")  # until the commit

    lead.refresh_from_db()
    assert lead.owner in sales
    assert Assignment.objects.get(lead=lead).stage_change == change


def test_batched_hand_off_leaves_the_mql_waiting_in_the_marketing_queue(
    sales: Any, django_capture_on_commit_callbacks: Any
):
    _agreement(handoff={"mode": "batched", "weekday": 0, "time": "09:00", "time_zone": "UTC"})
    lead = _lead()

    with override_settings(TASKS=IMMEDIATE), django_capture_on_commit_callbacks(execute=True):
        lead_qualify(lead_id=lead.pk, actor=None)

    lead.refresh_from_db()
    assert (lead.stage, lead.owner, lead.queue.name) == (Stage.MQL, None, "Marketing")
    assert not Assignment.objects.exists()


def test_routing_a_qualification_twice_assigns_once(sales: Any):
    lead = _lead()
    change = lead_qualify(lead_id=lead.pk, actor=None)

    first = lead_route_qualified(change_id=change.pk)
    second = lead_route_qualified(change_id=change.pk)

    assert first is not None
    assert second == first
    assert Assignment.objects.filter(lead=lead).count() == 1


def test_a_hand_raiser_touch_qualifies_a_new_lead_at_once():
    captured = lead_capture(
        data=LeadData(email="ada@analytical.example"),
        touch=TouchInput(kind=TouchKind.DEMO, occurred_at=NOW - dt.timedelta(minutes=1)),
    )

    lead = captured.lead
    assert (lead.stage, lead.queue.name) == (Stage.MQL, "Sales")  # handed off: no reps, fallback
    change = StageChange.objects.get(lead=lead, to_stage=Stage.MQL)
    assert (change.rule, change.agreement_version) == ("hand-raiser: Demo request", 1)


def test_a_captured_lead_is_owned_by_the_marketing_queue():
    captured = lead_capture(data=LeadData(email="grace@hopper.example"))

    assert (captured.lead.stage, captured.lead.queue.name, captured.lead.owner) == (
        Stage.LEAD,
        "Marketing",
        None,
    )


def test_accepting_makes_a_sal_and_a_rep_cannot_answer_for_another_reps_lead(sales: Any):
    lead = _owned_mql(sales[0])

    with pytest.raises(PermissionDenied, match="only move the leads they own"):
        lead_accept(lead_id=lead.pk, actor=sales[1])
    change = lead_accept(lead_id=lead.pk, actor=sales[0])

    lead.refresh_from_db()
    assert (lead.stage, change.actor, change.agreement_version) == (Stage.SAL, sales[0], 1)


def test_rejecting_for_not_now_recycles_the_lead_to_marketing_for_90_days(sales: Any):
    lead = _owned_mql(sales[0])

    change = lead_reject(lead_id=lead.pk, actor=sales[0], reason="not_now", note="Q3 maybe")

    lead.refresh_from_db()
    assert (lead.stage, lead.owner, lead.queue.name) == (Stage.NURTURE, None, "Marketing")
    assert lead.requalify_after == NOW + dt.timedelta(days=90)
    assert (change.reason, change.note, change.agreement_version) == ("not_now", "Q3 maybe", 1)
    returned = Assignment.objects.get(lead=lead)
    assert (returned.kind, returned.previous_assignee, returned.why) == (
        AssignmentKind.RETURNED,
        sales[0],
        "Rejected: Not now",
    )


def test_rejecting_for_bad_fit_disqualifies(sales: Any):
    lead = _owned_mql(sales[0])

    lead_reject(lead_id=lead.pk, actor=sales[0], reason="bad_fit")

    lead.refresh_from_db()
    assert (lead.stage, lead.queue.name) == (Stage.DISQUALIFIED, "Marketing")


def test_rejecting_needs_a_reason_of_the_catalogue(sales: Any):
    lead = _owned_mql(sales[0])

    with pytest.raises(ReasonRequired):
        lead_reject(lead_id=lead.pk, actor=sales[0], reason="")
    with pytest.raises(ReasonUnknown, match="'price' is not a reject reason of agreement v1"):
        lead_reject(lead_id=lead.pk, actor=sales[0], reason="price")

    assert not StageChange.objects.filter(lead=lead).exists()


def test_a_duplicate_is_merged_into_the_lead_it_duplicates(sales: Any):
    survivor = _lead(email="ada@analytical.example")
    duplicate = _owned_mql(sales[0])

    with pytest.raises(DuplicateOfRequired):
        lead_reject(lead_id=duplicate.pk, actor=sales[0], reason="duplicate")
    lead_reject(lead_id=duplicate.pk, actor=sales[0], reason="duplicate", duplicate_of=survivor.pk)

    assert not Lead.objects.filter(pk=duplicate.pk).exists()
    moved = StageChange.objects.get(lead=survivor, reason="duplicate")
    assert (moved.from_stage, moved.to_stage) == (Stage.MQL, Stage.DISQUALIFIED)


def test_losing_an_opportunity_on_price_recycles_it_for_120_days(sales: Any):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=sales[0], cycle=1)

    lead_lose(lead_id=lead.pk, actor=sales[0], reason="price")

    lead.refresh_from_db()
    assert (lead.stage, lead.requalify_after) == (Stage.NURTURE, NOW + dt.timedelta(days=120))


def test_a_lost_reason_cannot_reject_an_mql(sales: Any):
    lead = _owned_mql(sales[0])

    with pytest.raises(ReasonUnknown, match="not a reject reason"):
        lead_move(lead_id=lead.pk, to=Stage.NURTURE, actor=sales[0], reason="timing")


def test_a_disallowed_move_names_both_stages(sales: Any):
    lead = _owned_mql(sales[0])

    with pytest.raises(TransitionNotAllowed, match="from MQL to Customer"):
        lead_move(lead_id=lead.pk, to=Stage.CUSTOMER, actor=sales[0])


def test_marketing_ops_cannot_accept_for_sales(sales: Any):
    lead = _owned_mql(sales[0])

    with pytest.raises(PermissionDenied, match="sales owns it"):
        lead_accept(lead_id=lead.pk, actor=UserFactory(role=Role.MARKETING_OPS))


def _score(lead: Lead, *, qualifies: bool, last_touch_at: dt.datetime | None) -> LeadScore:
    return LeadScore.objects.create(
        lead=lead, qualifies=qualifies, fit_grade="A", last_touch_at=last_touch_at
    )


def test_a_nurtured_lead_requalifies_only_after_new_engagement_and_its_hold(clock: Any, sales: Any):
    lead = _owned_mql(sales[0])
    lead_reject(lead_id=lead.pk, actor=sales[0], reason="not_now")
    lead.refresh_from_db()
    score = _score(lead, qualifies=True, last_touch_at=NOW - dt.timedelta(days=1))

    assert lead_qualify_if_due(lead=lead, score=score) is None  # no touch since nurture
    score.last_touch_at = NOW + dt.timedelta(days=10)
    score.save()
    assert lead_qualify_if_due(lead=lead, score=score) is None  # held for 90 days

    clock.move_to(NOW + dt.timedelta(days=91))
    change = lead_qualify_if_due(lead=lead, score=score)

    assert change is not None
    assert (change.rule, change.cycle) == ("re-qualified from nurture", 2)


def test_the_sweep_qualifies_leads_whose_scores_meet_the_thresholds():
    ready = _lead()
    _score(ready, qualifies=True, last_touch_at=NOW)
    not_ready = _lead()
    _score(not_ready, qualifies=False, last_touch_at=NOW)
    already = _lead(stage=Stage.SQL)
    _score(already, qualifies=True, last_touch_at=NOW)

    assert leads_qualify_due() == 1

    assert list(Lead.objects.filter(stage=Stage.MQL)) == [ready]
    assert leads_qualify_due() == 0


def test_a_batched_hand_off_routes_the_waiting_mqls_at_the_agreed_time_and_starts_clocks(
    clock: Any, sales: Any
):
    _agreement(handoff={"mode": "batched", "weekday": 0, "time": "09:00", "time_zone": "UTC"})
    waiting = [_lead() for _ in range(3)]
    for lead in waiting:
        lead_qualify(lead_id=lead.pk, actor=None)

    assert handoff_deliver_now(now=NOW + dt.timedelta(days=6)) == 0  # Sunday: not due yet
    delivered = handoff_deliver_now(now=NOW + dt.timedelta(days=7))  # Monday 10:00
    again = handoff_deliver_now(now=NOW + dt.timedelta(days=7, minutes=5))

    assert (delivered, again) == (3, 0)
    owners = {Lead.objects.get(pk=lead.pk).owner for lead in waiting}
    assert owners <= set(sales)
    assert SlaClock.objects.filter(lead__in=waiting, kind="first_response").count() == 3


def test_a_manual_reassignment_moves_the_clock_to_the_new_owner(sales: Any):
    lead = _lead()
    change = lead_qualify(lead_id=lead.pk, actor=None)
    first = lead_route_qualified(change_id=change.pk)
    assert first is not None
    other = next(rep for rep in sales if rep != first.assignee)
    manager = UserFactory(role=Role.SALES_MANAGER, team=other.team)

    lead_reassign(lead_id=lead.pk, actor=manager, assignee=other, why="Speaks German")

    clocks = SlaClock.objects.filter(lead=lead, kind="first_response").order_by("pk")
    assert [(c.owner, c.outcome) for c in clocks] == [
        (first.assignee, "reassigned"),
        (other, "open"),
    ]


def test_merging_two_leads_with_running_clocks_keeps_the_survivors_and_stops_the_duplicates(
    sales: Any,
):
    survivor, duplicate = _lead(), _lead()
    for lead in (survivor, duplicate):
        lead_route_qualified(change_id=lead_qualify(lead_id=lead.pk, actor=None).pk)

    lead_merge(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=None)

    clocks = SlaClock.objects.filter(lead=survivor, kind="first_response")
    assert sorted(c.outcome for c in clocks) == ["cancelled", "open"]


def test_an_absence_entered_after_the_clock_started_moves_its_due_time(sales: Any):
    lead = _lead()
    assignment = lead_route_qualified(change_id=lead_qualify(lead_id=lead.pk, actor=None).pk)
    assert assignment is not None
    rep = assignment.assignee
    clock = SlaClock.objects.get(lead=lead, kind="first_response")
    due = clock.due_at

    out_of_office_set(
        actor=rep, user=rep, starts_at=NOW, ends_at=NOW + dt.timedelta(days=2), note="Offsite"
    )

    clock.refresh_from_db()
    assert clock.due_at > due

"""The demo's hand-offs: recent answered MQL cycles get the assignment and the stopped SLA clocks
the live hooks would have recorded, and marketing's delivery is evaluated for each week."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from leadloop.agreements.selectors import agreement_in_force
from leadloop.demo.generator import demo_generate
from leadloop.demo.handoff import HandoffHistory, demo_history_handoffs, demo_open_work_assign
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment
from leadloop.sla.models import ClockKind, ClockOutcome, MarketingSlaResult, SlaClock

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)
SINCE = NOW - dt.timedelta(weeks=12)


@pytest.fixture
def recorded() -> HandoffHistory:
    demo_generate(leads=1200, seed=3, now=NOW)
    agreement = agreement_in_force()
    opened = demo_open_work_assign(agreement_version=agreement.number)
    assert opened > 0
    return demo_history_handoffs(agreement=agreement, since=SINCE, now=NOW)


def _next_from(change: StageChange, stage: Stage) -> StageChange | None:
    return (
        StageChange.objects.filter(lead_id=change.lead_id, from_stage=stage, at__gte=change.at)
        .order_by("at", "id")
        .first()
    )


def test_each_answered_mql_is_handed_to_the_rep_who_answered_it(recorded):
    history = Assignment.objects.filter(at__gte=SINCE, stage_change__isnull=False)
    per_change = Counter(history.values_list("stage_change", flat=True))

    assert recorded.cycles > 20
    assert set(per_change.values()) == {1}  # never twice, open work included
    for assignment in history.select_related("stage_change"):
        mql = assignment.stage_change
        answer = _next_from(mql, Stage.MQL)
        assert (mql.to_stage, assignment.at, assignment.cycle) == (Stage.MQL, mql.at, mql.cycle)
        if answer is not None and assignment.sla_clocks.filter(stopped_at__isnull=False).exists():
            assert assignment.assignee_id == answer.actor_id


def test_first_response_clocks_stop_at_the_answer_met_or_breached_by_their_due_time(recorded):
    agreed = agreement_in_force().body.slas.sales.first_response_hours
    clocks = SlaClock.objects.filter(
        kind=ClockKind.FIRST_RESPONSE, stopped_at__isnull=False
    ).select_related("assignment__stage_change")

    outcomes = Counter()
    for clock in clocks:
        answer = _next_from(clock.assignment.stage_change, Stage.MQL)
        assert answer is not None
        assert (clock.started_at, clock.stopped_at) == (clock.assignment.at, answer.at)
        assert clock.owner_id == answer.actor_id
        assert clock.budget_hours == agreed
        assert clock.due_at - clock.started_at >= dt.timedelta(hours=agreed)  # business time
        late = clock.stopped_at > clock.due_at
        assert clock.outcome == (ClockOutcome.BREACHED if late else ClockOutcome.MET)
        assert clock.breached_at == (clock.due_at if late else None)
        outcomes[clock.outcome] += 1

    assert outcomes[ClockOutcome.MET] > 0
    assert outcomes[ClockOutcome.BREACHED] > 0
    assert recorded.clocks == SlaClock.objects.filter(stopped_at__isnull=False).count()


def test_an_accepted_cycle_ran_its_sal_clocks_until_the_contact_and_the_decision(recorded):
    clocks = SlaClock.objects.filter(
        kind__in=[ClockKind.CONTACT_ATTEMPT, ClockKind.DECISION], stopped_at__isnull=False
    ).select_related("stage_change")

    assert clocks.exists()
    for clock in clocks:
        accepted = clock.stage_change
        decided = _next_from(accepted, Stage.SAL)
        assert accepted.to_stage == Stage.SAL
        assert decided is not None
        assert clock.started_at == accepted.at
        if clock.kind == ClockKind.DECISION:
            assert clock.stopped_at == decided.at
        else:
            assert accepted.at <= clock.stopped_at <= decided.at


def test_open_work_keeps_its_running_clocks(recorded):
    waiting = Lead.objects.filter(stage__in=[Stage.MQL, Stage.SAL], owner__isnull=False)

    assert waiting.exists()
    for lead in waiting:
        mql = lead.stage_changes.filter(to_stage=Stage.MQL).order_by("-at", "-id").first()
        assert Assignment.objects.filter(stage_change=mql).count() == 1
        assert lead.sla_clocks.filter(stopped_at__isnull=True).exists()  # still running


def test_marketing_delivery_is_evaluated_for_every_week_that_ended(recorded):
    results = list(MarketingSlaResult.objects.order_by("period_start"))

    assert len(results) == recorded.weeks >= 11
    assert results[0].period_start >= SINCE
    assert results[-1].period_end <= NOW
    for result in results:
        handed = Assignment.objects.filter(
            stage_change__isnull=False, at__gte=result.period_start, at__lt=result.period_end
        ).count()
        assert result.delivered == handed
    assert sum(r.delivered for r in results) > 0


def test_running_it_again_records_nothing_new(recorded):
    counts = (Assignment.objects.count(), SlaClock.objects.count())

    again = demo_history_handoffs(agreement=agreement_in_force(), since=SINCE, now=NOW)

    assert (again.cycles, again.clocks) == (0, 0)
    assert (Assignment.objects.count(), SlaClock.objects.count()) == counts
    assert MarketingSlaResult.objects.count() == recorded.weeks

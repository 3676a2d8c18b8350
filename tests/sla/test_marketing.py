"""Marketing's delivery SLA: MQLs handed to sales per period, their fit at hand-off, and the
share sales accepted; evaluated at the period's end and stored once."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.services import lead_transition
from leadloop.routing.models import Assignment
from leadloop.routing.services import lead_route
from leadloop.scoring.models import FitRuleSet, LeadScore, ScoreHistory
from leadloop.sla.models import MarketingSlaResult
from leadloop.sla.reports import MarketingDeliverySoFar, marketing_delivery_so_far
from leadloop.sla.selectors import marketing_period, marketing_period_last
from leadloop.sla.services import marketing_sla_evaluate
from leadloop.sla.tasks import marketing_sla_due
from tests.routing.factories import agreement as batched_agreement
from tests.sla.factories import mql, person, sales_team, sla_agreement

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC
WEEK_START = dt.datetime(2026, 3, 2, tzinfo=BERLIN)  # Monday 00:00
WEEK_END = dt.datetime(2026, 3, 9, tzinfo=BERLIN)


@pytest.fixture
def agreement() -> Any:
    sales_team("Sales")
    for name in ("ana", "ben"):
        person(name, team=sales_team("Sales"))
    return sla_agreement(
        marketing={"mqls_per_period": 4, "good_fit_share": 0.5, "accepted_share": 0.5}
    )


def _handed_off(
    at: dt.datetime, agreement: Any, *, fit_then: int | None = None, grade_now: str = "D"
) -> Lead:
    """An MQL routed (handed to sales) at `at`; its fit score in the history just before."""
    with time_machine.travel(at, tick=False):
        lead = mql()
        LeadScore.objects.create(lead=lead, fit_score=0, fit_grade=grade_now)
        if fit_then is not None:
            ScoreHistory.objects.create(
                lead=lead, at=at - dt.timedelta(minutes=5), fit_score=fit_then, engagement_score=50
            )
        change = lead.stage_changes.get(to_stage=Stage.MQL)
        lead_route(lead_id=lead.pk, agreement=agreement, stage_change_id=change.pk)
    return lead


def _answer(lead: Lead, to: Stage) -> None:
    lead_transition(
        lead_id=lead.pk, to=to, actor=None, reason="not_now" if to == Stage.NURTURE else ""
    )


def _evaluate(agreement: Any) -> MarketingSlaResult:
    return marketing_sla_evaluate(
        period_start=WEEK_START, period_end=WEEK_END, agreement=agreement, now=WEEK_END
    )


def test_delivered_counts_the_mqls_handed_to_sales_in_the_period(agreement):
    for day in (2, 4, 8):
        _handed_off(dt.datetime(2026, 3, day, 9, tzinfo=BERLIN), agreement)
    _handed_off(dt.datetime(2026, 3, 9, 0, tzinfo=BERLIN), agreement)  # the next week
    with time_machine.travel(dt.datetime(2026, 3, 3, 9, tzinfo=BERLIN), tick=False):
        mql()  # qualified but not handed off (batched hand-off still waiting)

    result = _evaluate(agreement)

    assert (result.delivered, result.target, result.delivered_met) == (3, 4, False)
    assert (result.agreement_version, result.evaluated_at) == (agreement.number, WEEK_END)


def test_good_fit_is_grade_a_or_b_at_hand_off(agreement):
    monday = dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN)
    _handed_off(monday, agreement, fit_then=80, grade_now="D")  # A then, D now: counts
    _handed_off(monday, agreement, fit_then=49, grade_now="A")  # C then, A now: does not
    _handed_off(monday, agreement, fit_then=None, grade_now="B")  # no history: grade now
    late = _handed_off(monday, agreement, fit_then=None, grade_now="D")
    ScoreHistory.objects.create(
        lead=late, at=monday + dt.timedelta(hours=1), fit_score=90, engagement_score=0
    )

    result = _evaluate(agreement)

    assert (result.good_fit, result.good_fit_share, result.good_fit_met) == (2, 0.5, True)


def test_the_grade_b_band_of_the_active_fit_rules_decides(agreement):
    FitRuleSet.objects.create(version=1, is_active=True, grade_a=90, grade_b=85, grade_c=40)
    _handed_off(dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN), agreement, fit_then=80)

    assert _evaluate(agreement).good_fit == 0


def test_the_accepted_share_is_of_the_mqls_sales_answered(agreement):
    monday = dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN)
    accepted, rejected, _waiting = (_handed_off(monday, agreement) for _ in range(3))
    _answer(accepted, Stage.SAL)
    _answer(rejected, Stage.NURTURE)

    result = _evaluate(agreement)

    assert (result.answered, result.accepted, result.accepted_share) == (2, 1, 0.5)
    assert result.accepted_met is True


def test_a_period_without_mqls_has_no_shares_rather_than_zero(agreement):
    result = _evaluate(agreement)

    assert (result.delivered, result.good_fit_share, result.accepted_share) == (0, None, None)
    assert (result.delivered_met, result.good_fit_met, result.accepted_met) == (False, None, None)


def test_a_period_is_evaluated_once(agreement):
    first = _evaluate(agreement)
    _handed_off(dt.datetime(2026, 3, 3, 10, tzinfo=BERLIN), agreement)

    again = _evaluate(agreement)

    assert again == first
    assert again.delivered == 0
    assert MarketingSlaResult.objects.count() == 1


def test_weeks_run_monday_to_monday_in_the_hand_off_time_zone(agreement):
    period = marketing_period_last(
        now=dt.datetime(2026, 3, 9, 0, 30, tzinfo=BERLIN), agreement=agreement
    )

    assert (period.start, period.end) == (WEEK_START, WEEK_END)


def test_a_monthly_agreement_evaluates_calendar_months():
    monthly = sla_agreement(marketing={"period": "month"})

    period = marketing_period(at=dt.datetime(2026, 3, 31, 23, tzinfo=BERLIN), agreement=monthly)

    assert (period.start, period.end) == (
        dt.datetime(2026, 3, 1, tzinfo=BERLIN), dt.datetime(2026, 4, 1, tzinfo=BERLIN),
    )  # fmt: skip


def test_the_task_stores_the_week_that_just_ended(agreement):
    _handed_off(dt.datetime(2026, 3, 5, 10, tzinfo=BERLIN), agreement)

    with time_machine.travel(dt.datetime(2026, 3, 9, 1, tzinfo=BERLIN), tick=False):
        stored = marketing_sla_due.call()
        again = marketing_sla_due.call()

    result = MarketingSlaResult.objects.get()
    assert stored == again == result.pk
    assert (result.period_start, result.period_end, result.delivered) == (WEEK_START, WEEK_END, 1)
    assert Assignment.objects.count() == 1


# --- The running period so far (the marketing ops home) ---------------------------------------


def _so_far(at: dt.datetime) -> MarketingDeliverySoFar:
    return marketing_delivery_so_far(now=at)


def test_the_running_period_counts_the_hand_offs_up_to_now(agreement):
    _handed_off(dt.datetime(2026, 3, 1, 23, tzinfo=BERLIN), agreement)  # last week
    good = _handed_off(dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN), agreement, fit_then=80)
    bad = _handed_off(dt.datetime(2026, 3, 3, 9, tzinfo=BERLIN), agreement, fit_then=20)
    _handed_off(dt.datetime(2026, 3, 5, 9, tzinfo=BERLIN), agreement)  # after "now"
    _answer(good, Stage.SAL)
    _answer(bad, Stage.NURTURE)

    week = _so_far(dt.datetime(2026, 3, 4, 12, tzinfo=BERLIN))

    assert (week.period, week.start, week.end) == ("week", WEEK_START, WEEK_END)
    assert (week.delivered, week.target) == (2, 4)
    assert (week.good_fit.text, week.accepted.text) == ("1 of 2", "1 of 2")
    assert (week.day, week.days, week.agreement_version) == (3, 7, agreement.number)


def test_at_the_periods_end_it_counts_what_the_stored_evaluation_stores(agreement):
    monday = dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN)
    leads = [_handed_off(monday, agreement, fit_then=fit) for fit in (90, 70, 30, None)]
    _answer(leads[0], Stage.SAL)
    _answer(leads[2], Stage.NURTURE)
    _handed_off(dt.datetime(2026, 3, 8, 23, 59, tzinfo=BERLIN), agreement, fit_then=60)

    week = _so_far(WEEK_END - dt.timedelta(microseconds=1))
    stored = _evaluate(agreement)

    assert (week.delivered, week.good_fit.count, week.accepted.of, week.accepted.count) == (
        stored.delivered, stored.good_fit, stored.answered, stored.accepted)  # fmt: skip
    assert week.delivered == 5


def test_an_instant_hand_off_is_read_against_an_even_pace(agreement):
    _handed_off(dt.datetime(2026, 3, 2, 9, tzinfo=BERLIN), agreement)

    early = _so_far(dt.datetime(2026, 3, 3, 0, tzinfo=BERLIN))  # 1/7 of the week: 4/7 due
    late = _so_far(dt.datetime(2026, 3, 7, 0, tzinfo=BERLIN))  # 5/7: 2 due

    assert (early.expected_by_now, early.on_pace) == (0, True)
    assert (late.expected_by_now, late.on_pace) == (2, False)


def test_a_batched_hand_off_has_no_pace():
    batched_agreement(handoff={"mode": "batched"})

    week = _so_far(dt.datetime(2026, 3, 7, 0, tzinfo=BERLIN))

    assert (week.batched, week.expected_by_now, week.on_pace) == (True, None, None)


def test_the_running_period_shows_the_latest_ended_period_beside_it(agreement):
    _handed_off(dt.datetime(2026, 3, 3, 9, tzinfo=BERLIN), agreement)
    _evaluate(agreement)

    week = _so_far(dt.datetime(2026, 3, 10, 9, tzinfo=BERLIN))

    assert week.start == WEEK_END
    assert week.delivered == 0
    assert week.last is not None
    assert (week.last.start, week.last.delivered, week.last.delivered_met) == (
        WEEK_START, 1, False)  # fmt: skip

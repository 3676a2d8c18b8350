"""Due and reminder times in business time, on the nasty days, and paused by absences."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadloop.agreements.schema import SalesSla
from leadloop.common.businesstime import BusinessCalendar, business_time_between, calendar_from
from leadloop.sla.models import ClockKind
from leadloop.sla.timing import (
    Budget,
    budget_for,
    business_text,
    merge_absences,
    running_time_between,
    schedule,
)

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC
H = dt.timedelta(hours=1)


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return calendar_from(
        time_zone="Europe/Berlin",
        opening_hours={str(d): ["09:00", "17:30"] for d in range(5)},
        country="DE",
    )


def _due(cal: BusinessCalendar, start: dt.datetime, budget: Budget, **kw: object) -> dt.datetime:
    return schedule(start=start, budget=budget, remind_before=None, cal=cal, **kw).due_at  # type: ignore[arg-type]


def test_sixteen_business_hours_from_friday_1600_berlin_are_due_tuesday_1500(cal):
    due = _due(cal, berlin(2026, 3, 6, 16), Budget(hours=16))

    assert due == berlin(2026, 3, 10, 15).astimezone(UTC)


def test_good_friday_and_easter_monday_are_not_counted(cal):
    due = _due(cal, berlin(2026, 4, 2, 16), Budget(hours=16))

    assert due == berlin(2026, 4, 8, 15).astimezone(UTC)


def test_a_lead_assigned_at_0300_counts_from_the_opening(cal):
    due = _due(cal, berlin(2026, 3, 2, 3), Budget(hours=16))

    assert due == berlin(2026, 3, 3, 16, 30).astimezone(UTC)


def test_sixteen_hours_across_the_spring_dst_change_keep_the_wall_clock(cal):
    due = _due(cal, berlin(2026, 3, 27, 16), Budget(hours=16))

    assert due == dt.datetime(2026, 3, 31, 13, tzinfo=UTC)  # 15:00 CEST


def test_two_business_days_after_friday_1600_are_tuesday_1600(cal):
    due = _due(cal, berlin(2026, 3, 6, 16), Budget(days=2))

    assert due == berlin(2026, 3, 10, 16).astimezone(UTC)


def test_whit_monday_moves_a_two_day_decision_to_wednesday(cal):
    due = _due(cal, berlin(2026, 5, 22, 16), Budget(days=2))

    assert due == berlin(2026, 5, 27, 16).astimezone(UTC)


def test_half_a_business_day_is_half_of_that_days_opening_hours(cal):
    due = _due(cal, berlin(2026, 3, 2, 9), Budget(days=1.5))

    assert due == berlin(2026, 3, 3, 13, 15).astimezone(UTC)  # Tuesday 09:00 + 4h15


def test_the_agreement_gives_hours_to_answer_and_to_call_and_days_to_decide():
    sla = SalesSla(first_response_hours=12, contact_attempt_hours=4, decision_days=3)

    budgets = [budget_for(kind, sla) for kind in ClockKind]

    assert budgets == [Budget(hours=12), Budget(hours=4), Budget(days=3)]


def test_an_absence_inside_the_clock_moves_the_due_time_by_its_business_hours(cal):
    plan = schedule(
        start=berlin(2026, 3, 2, 9),
        budget=Budget(hours=16),
        remind_before=None,
        cal=cal,
        absences=[(berlin(2026, 3, 2, 12), berlin(2026, 3, 2, 14))],
    )

    assert plan.due_at == berlin(2026, 3, 4, 10).astimezone(UTC)  # Tuesday 16:30 + 2h
    assert plan.paused == 2 * H


def test_an_absence_after_the_due_time_moves_nothing(cal):
    plan = schedule(
        start=berlin(2026, 3, 2, 9),
        budget=Budget(hours=16),
        remind_before=None,
        cal=cal,
        absences=[(berlin(2026, 3, 4, 10), berlin(2026, 3, 4, 12))],
    )

    assert (plan.due_at, plan.paused) == (
        berlin(2026, 3, 3, 16, 30).astimezone(UTC),
        dt.timedelta(0),
    )


def test_an_absence_over_the_weekend_pauses_only_its_business_hours(cal):
    plan = schedule(
        start=berlin(2026, 3, 6, 16),
        budget=Budget(hours=16),
        remind_before=None,
        cal=cal,
        absences=[(berlin(2026, 3, 6, 17), berlin(2026, 3, 9, 10))],
    )

    assert plan.paused == dt.timedelta(hours=1.5)  # Friday 17:00-17:30, Monday 09:00-10:00
    assert plan.due_at == berlin(2026, 3, 10, 16, 30).astimezone(UTC)


def test_overlapping_absences_pause_once(cal):
    plan = schedule(
        start=berlin(2026, 3, 2, 9),
        budget=Budget(hours=16),
        remind_before=None,
        cal=cal,
        absences=[
            (berlin(2026, 3, 2, 11), berlin(2026, 3, 2, 13)),
            (berlin(2026, 3, 2, 10), berlin(2026, 3, 2, 12)),
        ],
    )

    assert plan.paused == 3 * H
    assert plan.due_at == berlin(2026, 3, 4, 11).astimezone(UTC)


def test_a_clock_started_while_the_owner_is_away_runs_from_their_return(cal):
    plan = schedule(
        start=berlin(2026, 3, 2, 10),
        budget=Budget(hours=16),
        remind_before=None,
        cal=cal,
        absences=[(berlin(2026, 3, 2, 8), berlin(2026, 3, 2, 11))],
    )

    assert plan.due_at == berlin(2026, 3, 4, 10).astimezone(UTC)
    assert plan.paused == H


def test_an_absence_moves_a_day_budget_by_business_time(cal):
    plan = schedule(
        start=berlin(2026, 3, 2, 9),
        budget=Budget(days=1),
        remind_before=None,
        cal=cal,
        absences=[(berlin(2026, 3, 2, 12), berlin(2026, 3, 2, 13))],
    )

    assert plan.due_at == berlin(2026, 3, 3, 10).astimezone(UTC)
    assert plan.needed == dt.timedelta(hours=8.5)


def test_the_reminder_comes_two_business_hours_before_the_due_time_across_the_night(cal):
    plan = schedule(
        start=berlin(2026, 3, 2, 10), budget=Budget(hours=8), remind_before=2 * H, cal=cal
    )

    assert plan.due_at == berlin(2026, 3, 3, 9, 30).astimezone(UTC)
    assert plan.remind_at == berlin(2026, 3, 2, 16).astimezone(UTC)


def test_no_reminder_when_it_would_come_at_the_start(cal):
    plan = schedule(
        start=berlin(2026, 3, 2, 10), budget=Budget(hours=2), remind_before=2 * H, cal=cal
    )

    assert plan.remind_at is None


def test_time_left_is_negative_business_time_once_late(cal):
    left = running_time_between(berlin(2026, 3, 3, 10), berlin(2026, 3, 2, 17), cal)

    assert left == -dt.timedelta(hours=1.5)


def test_time_left_stands_still_during_an_absence(cal):
    absences = [(berlin(2026, 3, 2, 12), berlin(2026, 3, 2, 15))]

    left = running_time_between(berlin(2026, 3, 2, 13), berlin(2026, 3, 2, 17), cal, absences)

    assert left == 2 * H  # 15:00-17:00


def test_merging_keeps_touching_absences_together():
    a, b, c = (berlin(2026, 3, 2, h) for h in (9, 10, 11))

    assert merge_absences([(b, c), (a, b)], after=a) == [(a, c)]


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (dt.timedelta(hours=2), "2 business hours"),
        (dt.timedelta(hours=1.5), "1.5 business hours"),
        (dt.timedelta(hours=1), "1 business hour"),
        (dt.timedelta(minutes=45), "45 business minutes"),
    ],
)
def test_business_durations_read_in_words(duration, text):
    assert business_text(duration) == text


_START = dt.datetime(2026, 3, 20, tzinfo=UTC)
_instants = st.integers(min_value=0, max_value=14 * 24 * 60).map(
    lambda m: _START + dt.timedelta(minutes=m)
)
_absence = st.tuples(_instants, st.integers(min_value=1, max_value=5 * 24 * 60)).map(
    lambda a: (a[0], a[0] + dt.timedelta(minutes=a[1]))
)


@settings(max_examples=200, deadline=None)
@given(
    start=_instants,
    minutes=st.integers(min_value=1, max_value=60 * 60),
    absences=st.lists(_absence, max_size=4),
)
def test_the_clock_runs_exactly_its_budget_outside_the_absences(cal, start, minutes, absences):
    plan = schedule(
        start=start,
        budget=Budget(hours=minutes / 60),
        remind_before=None,
        cal=cal,
        absences=absences,
    )

    assert running_time_between(start, plan.due_at, cal, absences) == plan.needed
    assert plan.needed == dt.timedelta(minutes=minutes)
    assert business_time_between(start, plan.due_at, cal) == plan.needed + plan.paused

"""What the inbox and the compliance reports read: countdowns in business time with their
state, and compliance per team, rep, week and kind."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from leadloop.lifecycle.selectors import Period
from leadloop.sla.models import ClockKind, ClockOutcome
from leadloop.sla.selectors import clock_state, compliance_rows, open_clocks, percentile
from leadloop.sla.services import clocks_on_assignment
from tests.sla.factories import (
    SlaClockFactory,
    assign,
    away,
    mql,
    person,
    sales_team,
    sla_agreement,
    to_queue,
)

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
H = dt.timedelta(hours=1)


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.fixture
def team() -> Any:
    sla_agreement()
    return sales_team()


@pytest.fixture
def ana(team: Any) -> Any:
    return person("ana", team=team)


def _clock(rep: Any, at: dt.datetime) -> Any:
    with time_machine.travel(at, tick=False):
        return clocks_on_assignment(assignment_id=assign(mql(), rep).pk).started[0]


def test_the_inbox_lists_a_reps_clocks_soonest_due_first_with_their_state(ana):
    amber = _clock(ana, berlin(2026, 3, 2, 10))  # due Tuesday 17:30
    green = _clock(ana, berlin(2026, 3, 3, 9))  # due Wednesday 16:30
    red = _clock(ana, berlin(2026, 2, 27, 10))  # due Monday 17:30

    rows = open_clocks(owner=ana, now=berlin(2026, 3, 3, 10))

    assert [(r.id, r.state, r.left) for r in rows] == [
        (red.pk, "red", -H),
        (amber.pk, "amber", 7.5 * H),
        (green.pk, "green", 15 * H),
    ]
    assert rows[1].share_left == pytest.approx(7.5 / 16)
    assert (rows[0].kind, rows[0].owner_name, rows[0].budget_label) == (
        ClockKind.FIRST_RESPONSE, "Ana", "16 business hours",
    )  # fmt: skip


def test_a_paused_clock_counts_down_only_while_the_owner_is_in(ana):
    clock = _clock(ana, berlin(2026, 3, 2, 10))
    away(ana, berlin(2026, 3, 3, 9), berlin(2026, 3, 3, 12))

    (row,) = open_clocks(owner=ana, now=berlin(2026, 3, 3, 10))

    assert row.id == clock.pk
    assert row.paused
    assert (
        row.left == 5.5 * H
    )  # 12:00-17:30; the due time itself moves with clocks_on_out_of_office


def test_a_manager_sees_the_clocks_of_the_team_and_its_queue(ana, team):
    other = person("olga", team=sales_team("Sales Nordics"))
    mine = _clock(ana, berlin(2026, 3, 2, 10))
    _clock(other, berlin(2026, 3, 2, 10))
    with time_machine.travel(berlin(2026, 3, 2, 11), tick=False):
        queued = clocks_on_assignment(assignment_id=to_queue(mql(), team).pk).started[0]

    rows = open_clocks(team=team, now=berlin(2026, 3, 2, 12))

    assert [(r.id, r.owner_name) for r in rows] == [
        (mine.pk, "Ana"),
        (queued.pk, "Sales DACH queue"),
    ]


@pytest.mark.parametrize(
    ("left", "state"),
    [
        (16 * H, "green"),
        (8.01 * H, "green"),
        (8 * H, "amber"),
        (dt.timedelta(seconds=1), "amber"),
        (dt.timedelta(0), "red"),
        (-H, "red"),
    ],
)
def test_more_than_half_left_is_green_then_amber_then_red_at_the_due_time(left, state):
    assert clock_state(left=left, budget=16 * H) == state


def _done(owner: Any, *, hours_to_answer: float, outcome: ClockOutcome, **kw: Any) -> Any:
    start = berlin(2026, 3, 2, 9)
    stop = {
        2: berlin(2026, 3, 2, 11),
        4: berlin(2026, 3, 2, 13),
        6: berlin(2026, 3, 2, 15),
        20: berlin(2026, 3, 4, 12),
    }[int(hours_to_answer)]
    return SlaClockFactory(
        owner=owner, started_at=start, due_at=berlin(2026, 3, 3, 16, 30), stopped_at=stop,
        outcome=outcome, goal_reached=True, **kw,
    )  # fmt: skip


def test_compliance_counts_met_and_breached_clocks_due_in_the_week(ana, team):
    for hours in (2, 4, 6):
        _done(ana, hours_to_answer=hours, outcome=ClockOutcome.MET)
    _done(ana, hours_to_answer=20, outcome=ClockOutcome.BREACHED)
    due = berlin(2026, 3, 6, 12)
    SlaClockFactory(owner=ana, started_at=berlin(2026, 3, 5, 9), due_at=due)  # not due yet
    SlaClockFactory(
        owner=ana, started_at=berlin(2026, 3, 2, 9), due_at=berlin(2026, 3, 3, 9)
    )  # late
    SlaClockFactory(
        owner=ana, started_at=berlin(2026, 3, 2, 9), due_at=berlin(2026, 3, 3, 12),
        stopped_at=berlin(2026, 3, 2, 10), outcome=ClockOutcome.REASSIGNED,
    )  # fmt: skip
    SlaClockFactory(
        owner=ana, started_at=berlin(2026, 3, 9, 9), due_at=berlin(2026, 3, 10, 9)
    )  # next week

    (row,) = compliance_rows(
        team=team,
        period=Period(berlin(2026, 3, 2), berlin(2026, 3, 9)),
        now=berlin(2026, 3, 5, 12),
    )

    assert (row.owner_name, row.team_name, row.week_start, row.kind) == (
        "Ana", "Sales DACH", dt.date(2026, 3, 2), ClockKind.FIRST_RESPONSE,
    )  # fmt: skip
    assert (row.met, row.breached, row.running, row.closed_otherwise) == (3, 2, 1, 1)
    assert row.share_met == pytest.approx(0.6)
    assert (row.responses, row.median_hours, row.p90_hours) == (4, 5.0, pytest.approx(15.8))


def test_compliance_splits_reps_weeks_and_kinds(ana, team):
    ben = person("ben", team=team)
    _done(ana, hours_to_answer=2, outcome=ClockOutcome.MET)
    _done(ben, hours_to_answer=2, outcome=ClockOutcome.MET)
    _done(ben, hours_to_answer=4, outcome=ClockOutcome.MET, kind=ClockKind.CONTACT_ATTEMPT)
    SlaClockFactory(owner=ana, started_at=berlin(2026, 3, 9, 9), due_at=berlin(2026, 3, 10, 9))

    rows = compliance_rows(
        period=Period(berlin(2026, 3, 2), berlin(2026, 3, 16)), now=berlin(2026, 3, 20)
    )

    assert [(r.week_start.day, r.kind.value, r.owner_name, r.share_met) for r in rows] == [
        (2, "first_response", "Ana", 1.0),
        (2, "first_response", "Ben", 1.0),
        (2, "contact_attempt", "Ben", 1.0),
        (9, "first_response", "Ana", 0.0),
    ]


def test_a_week_with_only_running_clocks_has_no_share():
    SlaClockFactory(
        started_at=berlin(2026, 3, 2, 9), due_at=berlin(2026, 3, 3, 9), team=sales_team()
    )

    (row,) = compliance_rows(
        period=Period(berlin(2026, 3, 2), berlin(2026, 3, 9)), now=berlin(2026, 3, 2, 12)
    )

    assert (row.share_met, row.median_hours, row.running, row.owner_name) == (
        None,
        None,
        1,
        "Sales DACH queue",
    )


def test_p90_interpolates_between_the_closest_ranks():
    assert percentile([float(v) for v in range(1, 11)], 0.9) == pytest.approx(9.1)
    assert percentile([3.0], 0.9) == 3.0

"""The SLA reports: rates with Wilson intervals, compliance per team, rep and week on a small
hand-built set of clocks, marketing's periods, the scorecards, and the inbox's rows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from leadloop.capture.models import TouchKind
from leadloop.common.errors import NotFound
from leadloop.leads.models import Stage
from leadloop.lifecycle.selectors import Period
from leadloop.loop.lifecycle import lead_reject
from leadloop.scoring.models import LeadScore
from leadloop.scoring.rules import epoch_weight
from leadloop.sla.models import ClockKind, ClockOutcome, MarketingSlaResult
from leadloop.sla.reports import (
    Share,
    inbox_row,
    inbox_rows,
    marketing_periods,
    marketing_scorecard,
    sales_scorecard,
    sla_compliance,
    team_by_key,
    team_inbox,
    wilson_interval,
)
from leadloop.sla.selectors import compliance_rows
from leadloop.sla.services import clocks_on_assignment
from tests.capture.factories import TouchFactory
from tests.leads.factories import LeadFactory
from tests.sla.factories import SlaClockFactory, assign, mql, person, sales_team, to_queue

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
H = dt.timedelta(hours=1)


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


# --- Rates ----------------------------------------------------------------------------------------


def test_the_wilson_interval_of_8_of_10_is_49_to_94_percent():
    low, high = wilson_interval(8, 10)  # type: ignore[misc]

    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


def test_the_wilson_interval_stays_inside_0_and_1_and_is_none_without_a_sample():
    assert wilson_interval(0, 20)[0] == 0.0  # type: ignore[index]
    assert wilson_interval(20, 20)[1] == pytest.approx(1.0)  # type: ignore[index]
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(
    ("of", "sample", "percent"),
    [(0, "none", None), (9, "not_enough_data", None), (10, "small_sample", 60), (30, "ok", 60)],
)
def test_a_rate_is_hidden_under_ten_and_flagged_under_thirty(of, sample, percent):
    share = Share(count=round(0.6 * of), of=of)

    assert (share.sample, share.percent) == (sample, percent)


def test_a_rates_hover_text_names_the_count_and_the_interval():
    assert Share(count=8, of=10).title == (
        "8 of 10 (80 %); 95 % Wilson interval 49-94 %; small sample"
    )
    assert Share(count=3, of=4).title == ("3 of 4: fewer than 10, not enough data for a rate")


# --- Compliance -----------------------------------------------------------------------------------


@pytest.fixture
def dach() -> Any:
    return sales_team("Sales DACH")


def _answered(
    owner: Any,
    stop: dt.datetime,
    *,
    start: dt.datetime | None = None,
    outcome: ClockOutcome = ClockOutcome.MET,
    **kw: Any,
) -> Any:
    """A first-response clock started Monday 2 March 09:00 (or `start`), stopped at `stop` by
    its goal event."""
    start = start or berlin(2026, 3, 2, 9)
    kw.setdefault("due_at", start + dt.timedelta(days=1, hours=7, minutes=30))
    return SlaClockFactory(
        owner=owner, started_at=start, stopped_at=stop, outcome=outcome, goal_reached=True, **kw
    )


@pytest.fixture
def clocks(dach: Any) -> dict[str, Any]:
    """Two weeks of Sales DACH's first responses, and a few clocks that must not count."""
    ana, ben = person("ana", team=dach), person("ben", team=dach)
    cleo = person("cleo", team=dach)  # no clock due: listed with zeros
    for hour in (11, 13, 15):  # 2, 4 and 6 business hours
        _answered(ana, berlin(2026, 3, 2, hour))
    # Answered late, after 20 business hours (Mon 8.5 + Tue 8.5 + Wed 3): still a breach.
    _answered(ana, berlin(2026, 3, 4, 12), outcome=ClockOutcome.BREACHED)
    SlaClockFactory(owner=ana, started_at=berlin(2026, 3, 2, 9), due_at=berlin(2026, 3, 3, 9))
    SlaClockFactory(
        owner=ana, started_at=berlin(2026, 3, 2, 9), due_at=berlin(2026, 3, 3, 12),
        stopped_at=berlin(2026, 3, 2, 10), outcome=ClockOutcome.REASSIGNED,
    )  # fmt: skip
    _answered(ben, berlin(2026, 3, 2, 11))
    _answered(ana, berlin(2026, 3, 9, 10), start=berlin(2026, 3, 9, 9))  # week two: 1 hour
    SlaClockFactory(team=dach, started_at=berlin(2026, 3, 12, 9), due_at=berlin(2026, 3, 13, 9))
    SlaClockFactory(owner=ana, kind=ClockKind.CONTACT_ATTEMPT, due_at=berlin(2026, 3, 3, 9))
    SlaClockFactory(owner=ana, due_at=berlin(2026, 2, 27, 9))  # the week before
    nils = person("nils", team=sales_team("Sales Nordics"))
    _answered(nils, berlin(2026, 3, 2, 13))
    return {"ana": ana, "ben": ben, "cleo": cleo, "nils": nils}


NOW = berlin(2026, 3, 12, 12)  # Thursday of week two


def _figures(tally: Any) -> tuple[Any, ...]:
    return (
        tally.met, tally.breached, tally.running, tally.closed_otherwise,
        tally.responses, tally.median_hours, tally.p90_hours,
    )  # fmt: skip


def test_compliance_per_rep_and_week_counts_met_breached_and_response_times(clocks, dach):
    report = sla_compliance(weeks=2, now=NOW, tz=BERLIN, team=dach)

    assert [(s.level, s.label) for s in report.series] == [
        ("team", "Sales DACH"),
        ("rep", "Ana"),
        ("rep", "Ben"),
        ("rep", "Cleo"),
        ("queue", "Sales DACH queue"),
    ]
    team, ana, ben, cleo, queue = report.series
    assert [w.start for w in ana.weeks] == [berlin(2026, 3, 2), berlin(2026, 3, 9)]
    assert _figures(ana.weeks[0]) == (3, 2, 0, 1, 4, 5.0, pytest.approx(15.8))
    assert _figures(ana.weeks[1]) == (1, 0, 0, 0, 1, 1.0, 1.0)
    assert _figures(ben.weeks[0]) == (1, 0, 0, 0, 1, 2.0, 2.0)
    assert _figures(cleo.total) == (0, 0, 0, 0, 0, None, None)
    assert _figures(queue.weeks[1]) == (0, 0, 1, 0, 0, None, None)
    assert _figures(team.weeks[0]) == (4, 2, 0, 1, 5, 4.0, pytest.approx(14.4))
    assert _figures(team.total) == (5, 2, 1, 1, 6, 3.0, pytest.approx(13.0))
    assert (ana.weeks[0].share_met.count, ana.weeks[0].share_met.of) == (3, 5)
    assert team.total.share_met.value == pytest.approx(5 / 7)


def test_a_reps_week_agrees_with_the_sla_apps_compliance_rows(clocks, dach):
    period = Period(berlin(2026, 3, 2), berlin(2026, 3, 9))

    (row,) = [
        r
        for r in compliance_rows(team=dach, period=period, now=NOW, kind=ClockKind.FIRST_RESPONSE)
        if r.owner_id == clocks["ana"].pk
    ]
    ana = sla_compliance(weeks=2, now=NOW, tz=BERLIN, team=dach).series[1]

    week = ana.weeks[0]
    assert (week.met, week.breached, week.running, week.closed_otherwise) == (
        row.met, row.breached, row.running, row.closed_otherwise,
    )  # fmt: skip
    assert (week.median_hours, week.p90_hours, week.responses) == (
        row.median_hours, pytest.approx(row.p90_hours), row.responses,
    )  # fmt: skip


def test_without_a_team_every_sales_team_gets_its_own_series(clocks):
    report = sla_compliance(weeks=2, now=NOW, tz=BERLIN)

    teams = [(s.label, s.total.met) for s in report.teams]
    assert teams == [("Sales DACH", 5), ("Sales Nordics", 1)]
    assert [s.label for s in report.people if s.team_name == "Sales Nordics"] == ["Nils"]


def test_other_kinds_of_clock_are_reported_apart(clocks, dach):
    report = sla_compliance(weeks=2, now=NOW, tz=BERLIN, team=dach, kind=ClockKind.CONTACT_ATTEMPT)

    assert report.teams[0].total.breached == 1
    assert report.teams[0].total.met == 0


def test_weeks_outside_one_to_fifty_two_are_refused():
    with pytest.raises(ValueError, match="weeks must be 1 to 52, not 0"):
        sla_compliance(weeks=0, now=NOW, tz=BERLIN)


def test_a_team_is_found_by_id_or_name_and_an_unknown_one_is_named(dach):
    assert team_by_key(key=str(dach.pk)) == dach
    assert team_by_key(key="sales dach") == dach

    message = "No team 'Sales Mars'; the sales teams are: Sales DACH."
    with pytest.raises(NotFound, match=re.escape(message)):
        team_by_key(key="Sales Mars")


# --- Marketing and the scorecards -----------------------------------------------------------------


def _result(start: dt.datetime, **fields: Any) -> MarketingSlaResult:
    defaults: dict[str, Any] = {
        "delivered": 46, "target": 50, "good_fit": 30, "good_fit_share": 30 / 46,
        "good_fit_target": 0.6, "answered": 40, "accepted": 22, "accepted_share": 0.55,
        "accepted_target": 0.5, "delivered_met": False, "good_fit_met": True, "accepted_met": True,
        "agreement_version": 1, "evaluated_at": start + dt.timedelta(days=7, hours=1),
    }  # fmt: skip
    defaults.update(fields)
    return MarketingSlaResult.objects.create(
        period_start=start, period_end=start + dt.timedelta(days=7), **defaults
    )


def test_marketing_periods_are_the_stored_results_oldest_first_with_their_counts():
    _result(berlin(2026, 2, 23), delivered=52, delivered_met=True)
    _result(berlin(2026, 3, 2))

    periods = marketing_periods(periods=2)

    assert [(p.start, p.delivered, p.delivered_met) for p in periods] == [
        (berlin(2026, 2, 23), 52, True),
        (berlin(2026, 3, 2), 46, False),
    ]
    assert (periods[1].good_fit.text, periods[1].accepted.text) == ("30 of 46", "22 of 40")


def test_the_marketing_scorecard_shows_the_latest_period_against_the_agreement():
    _result(berlin(2026, 2, 23))
    _result(berlin(2026, 3, 2), delivered=51)

    card = marketing_scorecard()

    assert (card.target, card.good_fit_target, card.accepted_target) == (50, 0.6, 0.5)
    assert card.latest is not None
    assert card.latest.delivered == 51
    assert card.previous is not None
    assert card.previous.start == berlin(2026, 2, 23)


def test_the_sales_scorecard_counts_last_week_and_the_clocks_running_now(clocks, dach):
    card = sales_scorecard(now=NOW, tz=BERLIN, team=dach)

    assert (card.last_week.met, card.last_week.breached) == (4, 2)
    assert (card.this_week.met, card.this_week.running) == (1, 1)
    assert (card.running_now, card.late_now) == (3, 2)  # week one's late one, the old one
    assert card.budget_label == "16 business hours"


# --- The inbox ------------------------------------------------------------------------------------


def _started(rep: Any, at: dt.datetime, **lead: Any) -> Any:
    with time_machine.travel(at, tick=False):
        return clocks_on_assignment(assignment_id=assign(mql(**lead), rep).pk).started[0]


def test_the_inbox_lists_a_reps_leads_soonest_due_first_then_leads_without_a_clock(dach):
    ana = person("ana", team=dach)
    amber = _started(ana, berlin(2026, 3, 2, 10))
    green = _started(ana, berlin(2026, 3, 3, 9))
    red = _started(ana, berlin(2026, 2, 27, 10))
    unclocked = LeadFactory(stage=Stage.SAL, owner=ana)
    _started(person("ben", team=dach), berlin(2026, 3, 2, 10))

    rows = inbox_rows(owner=ana, now=berlin(2026, 3, 3, 10))

    assert [(r.lead.pk, r.state) for r in rows] == [
        (red.lead_id, "red"),
        (amber.lead_id, "amber"),
        (green.lead_id, "green"),
        (unclocked.pk, "none"),
    ]
    assert rows[0].clock is not None
    assert rows[0].clock.left == -H


def test_an_inbox_row_has_the_scores_and_what_the_lead_did_last(dach):
    ana = person("ana", team=dach)
    now = berlin(2026, 3, 3, 10)
    clock = _started(ana, berlin(2026, 3, 2, 10), source="webinar")
    LeadScore.objects.create(
        lead_id=clock.lead_id, fit_score=80, fit_grade="A",
        engagement_sum=50 * epoch_weight(now, 30.0), predicted_probability=0.234,
    )  # fmt: skip
    TouchFactory(lead_id=clock.lead_id, kind=TouchKind.WEBINAR, occurred_at=berlin(2026, 3, 1))
    TouchFactory(lead_id=clock.lead_id, kind=TouchKind.OUTBOUND_CALL, occurred_at=now - H)

    (row,) = inbox_rows(owner=ana, now=now)

    assert (row.fit_grade, row.fit_score, row.predicted_probability) == ("A", 80, 0.234)
    assert row.engagement == 63  # 100 * (1 - e^-1): E = k
    assert (row.last_touch, row.last_touch_at) == ("Webinar attendance", berlin(2026, 3, 1))
    assert row.lead.source == "webinar"


def test_a_team_inbox_groups_the_queue_first_then_each_rep_by_their_soonest_due(dach):
    ana, ben = person("ana", team=dach), person("ben", team=dach)
    _started(ana, berlin(2026, 3, 3, 9))
    _started(ben, berlin(2026, 3, 2, 10))
    _started(ana, berlin(2026, 3, 2, 12))
    with time_machine.travel(berlin(2026, 3, 3, 9), tick=False):
        queued = clocks_on_assignment(assignment_id=to_queue(mql(), dach).pk).started[0]
    _started(person("nils", team=sales_team("Sales Nordics")), berlin(2026, 3, 2, 10))

    groups = team_inbox(team=dach, now=berlin(2026, 3, 3, 10))

    assert [(g.name, len(g.rows)) for g in groups] == [
        ("Sales DACH queue", 1),
        ("Ben", 1),
        ("Ana", 2),
    ]
    assert groups[0].rows[0].lead.pk == queued.lead_id
    assert [r.clock.due_at for r in groups[2].rows] == sorted(  # type: ignore[union-attr]
        r.clock.due_at
        for r in groups[2].rows  # type: ignore[union-attr]
    )


def test_a_lead_answered_back_to_marketing_has_no_inbox_row_any_more(dach):
    ana = person("ana", team=dach)
    clock = _started(ana, berlin(2026, 3, 2, 10))
    with time_machine.travel(berlin(2026, 3, 2, 11), tick=False):
        lead_reject(lead_id=clock.lead_id, actor=ana, reason="not_now")

    assert inbox_row(lead_id=clock.lead_id, now=berlin(2026, 3, 2, 12)) is None

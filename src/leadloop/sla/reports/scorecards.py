"""Both teams' scorecards: sales' answers against their SLA, marketing's delivery against the
agreement.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from leadloop.accounts.models import Team
from leadloop.agreements.selectors import agreement_in_force
from leadloop.sla.models import ClockKind, SlaClock
from leadloop.sla.reports.compliance import Hours, Tally, tally
from leadloop.sla.reports.marketing import MarketingPeriod, marketing_periods
from leadloop.sla.reports.zones import weeks_ending


@dataclass(frozen=True)
class SalesScorecard:
    """Sales' side: last week's first responses (and this week's so far), and the clocks
    running now."""

    team_name: str  # a team, or "All sales teams"
    kind: ClockKind
    budget_label: str  # "16 business hours", as the agreement in force says
    last_week: Tally
    this_week: Tally
    running_now: int
    late_now: int  # running and past their due time


@dataclass(frozen=True)
class MarketingScorecard:
    """Marketing's side: the latest ended period against the agreement's targets."""

    period: str  # "week" or "month"
    time_zone: str  # the hand-off's, in which the periods are cut
    target: int
    good_fit_target: float
    accepted_target: float
    latest: MarketingPeriod | None
    previous: MarketingPeriod | None


def sales_scorecard(
    *,
    now: dt.datetime,
    tz: ZoneInfo,
    team: Team | None = None,
    kind: ClockKind = ClockKind.FIRST_RESPONSE,
) -> SalesScorecard:
    """Sales' scorecard for `team` (else all teams), weeks cut in `tz`."""
    last, this = weeks_ending(now=now, tz=tz, weeks=2)
    clocks = SlaClock.objects.filter(kind=kind).select_related("team")
    if team is not None:
        clocks = clocks.filter(team=team)
    due = list(clocks.filter(due_at__gte=last.start, due_at__lt=this.end))
    hours = Hours()
    running = clocks.filter(stopped_at__isnull=True)
    sales = agreement_in_force().body.slas.sales
    budget = {
        ClockKind.FIRST_RESPONSE: f"{sales.first_response_hours:g} business hours",
        ClockKind.CONTACT_ATTEMPT: f"{sales.contact_attempt_hours:g} business hours",
        ClockKind.DECISION: f"{sales.decision_days:g} business days",
    }[kind]
    return SalesScorecard(
        team_name=team.name if team is not None else "All sales teams",
        kind=kind,
        budget_label=budget,
        last_week=tally([c for c in due if c.due_at < last.end], last, now=now, hours=hours),
        this_week=tally([c for c in due if c.due_at >= this.start], this, now=now, hours=hours),
        running_now=running.count(),
        late_now=running.filter(due_at__lte=now).count(),
    )


def marketing_scorecard() -> MarketingScorecard:
    """Marketing's scorecard: the latest stored period and the one before it."""
    body = agreement_in_force().body
    targets = body.slas.marketing
    latest = marketing_periods(periods=2)
    return MarketingScorecard(
        period=targets.period,
        time_zone=body.handoff.time_zone,
        target=targets.mqls_per_period,
        good_fit_target=targets.good_fit_share,
        accepted_target=targets.accepted_share,
        latest=latest[-1] if latest else None,
        previous=latest[-2] if len(latest) > 1 else None,
    )

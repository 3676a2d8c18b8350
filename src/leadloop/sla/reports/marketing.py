"""Marketing's delivery per period: the stored results of ended periods and the running
period counted live.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from leadloop.agreements.selectors import agreement_in_force
from leadloop.sla.models import MarketingSlaResult
from leadloop.sla.reports.rates import Share
from leadloop.sla.reports.zones import A_MOMENT
from leadloop.sla.selectors import marketing_period
from leadloop.sla.services import delivery_counts


@dataclass(frozen=True)
class MarketingPeriod:
    """One ended period of marketing's delivery, as stored when it ended."""

    start: dt.datetime
    end: dt.datetime
    delivered: int
    target: int
    delivered_met: bool
    good_fit: Share  # grade A or B at hand-off, of the delivered MQLs
    good_fit_target: float
    good_fit_met: bool | None
    accepted: Share  # accepted, of the answered ones
    accepted_target: float
    accepted_met: bool | None
    agreement_version: int | None
    evaluated_at: dt.datetime


def marketing_periods(*, periods: int) -> list[MarketingPeriod]:
    """The stored results of the latest `periods` ended periods, oldest first."""
    rows = MarketingSlaResult.objects.order_by("-period_start")[:periods]
    return [_marketing_period(r) for r in reversed(list(rows))]


def _marketing_period(row: MarketingSlaResult) -> MarketingPeriod:
    return MarketingPeriod(
        start=row.period_start,
        end=row.period_end,
        delivered=row.delivered,
        target=row.target,
        delivered_met=row.delivered_met,
        good_fit=Share(count=row.good_fit, of=row.delivered),
        good_fit_target=row.good_fit_target,
        good_fit_met=row.good_fit_met,
        accepted=Share(count=row.accepted, of=row.answered),
        accepted_target=row.accepted_target,
        accepted_met=row.accepted_met,
        agreement_version=row.agreement_version,
        evaluated_at=row.evaluated_at,
    )


@dataclass(frozen=True)
class MarketingDeliverySoFar:
    """Marketing's running period (this week or month) so far, counted as the stored results
    of ended periods are (``sla.services.delivery_counts``), against the agreement's targets.

    With an instant hand-off the delivery can be read against the pace: the target times the
    share of the period gone. A batched hand-off delivers in lumps, so it has no pace.
    """

    period: str  # "week" or "month"
    time_zone: str  # the hand-off's, in which the period is cut
    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    delivered: int
    target: int
    good_fit: Share  # grade A or B at hand-off, of the delivered MQLs
    good_fit_target: float
    accepted: Share  # accepted, of the answered ones
    accepted_target: float
    batched: bool
    agreement_version: int
    last: MarketingPeriod | None  # the latest ended period, as stored

    @property
    def elapsed(self) -> float:
        """The share of the period gone, 0 to 1."""
        gone = (self.now - self.start) / (self.end - self.start)
        return min(max(gone, 0.0), 1.0)

    @property
    def day(self) -> int:
        """Today's day of the period, from 1."""
        return (self.now - self.start) // dt.timedelta(days=1) + 1

    @property
    def days(self) -> int:
        """The period's length in days (a DST change makes a week 167 or 169 hours)."""
        return round((self.end - self.start) / dt.timedelta(days=1))

    @property
    def expected_by_now(self) -> int | None:
        """MQLs the target calls for by now at an even pace; None for a batched hand-off."""
        return None if self.batched else math.floor(self.target * self.elapsed)

    @property
    def on_pace(self) -> bool | None:
        expected = self.expected_by_now
        return None if expected is None else self.delivered >= expected

    @property
    def good_fit_on_track(self) -> bool | None:
        """Whether the good-fit share so far meets the target; None below ten MQLs."""
        if self.good_fit.percent is None or self.good_fit.value is None:
            return None
        return self.good_fit.value >= self.good_fit_target


def marketing_delivery_so_far(*, now: dt.datetime) -> MarketingDeliverySoFar:
    """The running marketing SLA period's delivery up to `now` (hand-offs from the period's
    start), with the agreement's targets and the latest ended period beside it."""
    agreement = agreement_in_force()
    body = agreement.body
    targets = body.slas.marketing
    period = marketing_period(at=now, agreement=agreement)
    counts = delivery_counts(start=period.start, end=min(now + A_MOMENT, period.end))
    last = marketing_periods(periods=1)
    return MarketingDeliverySoFar(
        period=targets.period,
        time_zone=body.handoff.time_zone,
        start=period.start,
        end=period.end,
        now=now,
        delivered=counts["delivered"],
        target=targets.mqls_per_period,
        good_fit=Share(count=counts["good_fit"], of=counts["delivered"]),
        good_fit_target=targets.good_fit_share,
        accepted=Share(count=counts["accepted"], of=counts["answered"]),
        accepted_target=targets.accepted_share,
        batched=body.handoff.mode == "batched",
        agreement_version=agreement.number,
        last=last[0] if last else None,
    )

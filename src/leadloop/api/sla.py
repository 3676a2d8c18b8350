"""SLA reports: compliance per team, rep and week, and marketing's delivery per period.

The compliance page draws its charts from exactly these bodies (``compliance_json`` and
``marketing_json``, written into the page with ``json_script``), so the API and the page show
the same numbers. Times are ISO 8601 strings in the report's time zone.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from leadloop.accounts.models import User
from leadloop.api.auth import TokenAuth
from leadloop.api.errors import ErrorOut
from leadloop.sla.models import ClockKind
from leadloop.sla.reports import (
    MAX_WEEKS,
    ComplianceReport,
    ComplianceSeries,
    MarketingPeriod,
    Share,
    Tally,
    marketing_periods,
    report_zone,
    sla_compliance,
    team_by_key,
)

router = Router(tags=["sla"])

_ERRORS: Final = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
DEFAULT_WEEKS: Final = 8
DEFAULT_PERIODS: Final = 12
COMPLIANCE_DEFINITION: Final = (
    "Share met = met / (met + breached) among the clocks due in the week (a running clock past "
    "its due time counts as breached); running clocks not yet due, and clocks cancelled or "
    "reassigned before a breach, are beside and not counted. Response time = business hours "
    "from start to stop of the clocks stopped by their goal event (median and p90). Rates carry "
    "a 95 % Wilson interval; under 30 is a small sample, under 10 not enough data."
)
MARKETING_DEFINITION: Final = (
    "Delivered = MQLs handed to sales in the period vs the target; good fit = grade A or B at "
    "hand-off among them; acceptance = accepted / answered among them. Evaluated and stored at "
    "each period's end."
)


class ShareOut(Schema):
    """A rate with its count and 95 % Wilson interval."""

    count: int
    of: int
    value: float | None = Field(description="count / of; null when of is 0.")
    low: float | None = Field(description="Lower end of the 95 % Wilson interval.")
    high: float | None = Field(description="Upper end of the 95 % Wilson interval.")
    sample: Literal["none", "not_enough_data", "small_sample", "ok"] = Field(
        description="none: of = 0; not_enough_data: of < 10; small_sample: of < 30."
    )

    @classmethod
    def from_share(cls, share: Share) -> ShareOut:
        return cls(
            count=share.count,
            of=share.of,
            value=share.value,
            low=share.low,
            high=share.high,
            sample=share.sample,
        )


class TallyOut(Schema):
    """The clocks of a group due in [start, end)."""

    start: str = Field(description="ISO 8601, inclusive.")
    end: str = Field(description="ISO 8601, exclusive.")
    met: int
    breached: int
    running: int = Field(description="Running, not yet due: not counted in the share.")
    closed_otherwise: int = Field(description="Cancelled or reassigned before a breach.")
    share_met: ShareOut
    median_hours: float | None = Field(description="Median response time, business hours.")
    p90_hours: float | None = Field(description="90th percentile response time, business hours.")
    responses: int = Field(description="How many response times the median and p90 are of.")

    @classmethod
    def from_tally(cls, tally: Tally) -> TallyOut:
        return cls(
            start=tally.start.isoformat(),
            end=tally.end.isoformat(),
            met=tally.met,
            breached=tally.breached,
            running=tally.running,
            closed_otherwise=tally.closed_otherwise,
            share_met=ShareOut.from_share(tally.share_met),
            median_hours=tally.median_hours,
            p90_hours=tally.p90_hours,
            responses=tally.responses,
        )


class SeriesOut(Schema):
    level: Literal["team", "rep", "queue"]
    team_id: int | None
    team: str
    owner_id: int | None = Field(description="The rep; null for the team and its queue.")
    label: str = Field(description="The team's name, the rep's name, or 'Team queue'.")
    weeks: list[TallyOut] = Field(description="One per week of the report, oldest first.")
    total: TallyOut = Field(description="The whole period.")

    @classmethod
    def from_series(cls, series: ComplianceSeries) -> SeriesOut:
        return cls(
            level=series.level,
            team_id=series.team_id,
            team=series.team_name,
            owner_id=series.owner_id,
            label=series.label,
            weeks=[TallyOut.from_tally(w) for w in series.weeks],
            total=TallyOut.from_tally(series.total),
        )


class ComplianceOut(Schema):
    kind: str
    kind_label: str
    time_zone: str
    period_start: str
    period_end: str
    as_of: str
    weeks: list[str] = Field(description="The Mondays of the weeks, oldest first.")
    definition: str
    series: list[SeriesOut] = Field(description="Each team, then its reps, then its queue.")


class MarketingPeriodOut(Schema):
    start: str
    end: str
    delivered: int
    target: int
    delivered_met: bool
    good_fit: ShareOut = Field(description="Grade A or B at hand-off, of the delivered MQLs.")
    good_fit_target: float
    good_fit_met: bool | None
    accepted: ShareOut = Field(description="Accepted, of the answered MQLs.")
    accepted_target: float
    accepted_met: bool | None
    agreement_version: int | None
    evaluated_at: str


class MarketingOut(Schema):
    definition: str
    periods: list[MarketingPeriodOut] = Field(description="The ended periods, oldest first.")


def compliance_json(report: ComplianceReport) -> dict[str, Any]:
    """The body of ``GET /sla/compliance`` for `report` (the page's chart data too)."""
    return ComplianceOut(
        kind=report.kind.value,
        kind_label=str(report.kind.label),
        time_zone=report.time_zone,
        period_start=report.period.start.isoformat(),
        period_end=report.period.end.isoformat(),
        as_of=report.as_of.isoformat(),
        weeks=[w.start.date().isoformat() for w in report.weeks],
        definition=COMPLIANCE_DEFINITION,
        series=[SeriesOut.from_series(s) for s in report.series],
    ).model_dump(mode="json")


def _period_out(row: MarketingPeriod) -> MarketingPeriodOut:
    return MarketingPeriodOut(
        start=row.start.isoformat(),
        end=row.end.isoformat(),
        delivered=row.delivered,
        target=row.target,
        delivered_met=row.delivered_met,
        good_fit=ShareOut.from_share(row.good_fit),
        good_fit_target=row.good_fit_target,
        good_fit_met=row.good_fit_met,
        accepted=ShareOut.from_share(row.accepted),
        accepted_target=row.accepted_target,
        accepted_met=row.accepted_met,
        agreement_version=row.agreement_version,
        evaluated_at=row.evaluated_at.isoformat(),
    )


def marketing_json(periods: list[MarketingPeriod]) -> dict[str, Any]:
    """The body of ``GET /sla/marketing`` for `periods` (the page's chart data too)."""
    return MarketingOut(
        definition=MARKETING_DEFINITION, periods=[_period_out(p) for p in periods]
    ).model_dump(mode="json")


class ComplianceQuery(Schema):
    team: str | None = Field(None, description="A team's id or name; all teams when empty.")
    weeks: int = Field(
        DEFAULT_WEEKS, ge=1, le=MAX_WEEKS, description="How many weeks, this one included."
    )
    kind: ClockKind = Field(ClockKind.FIRST_RESPONSE, description="Which clocks.")


@router.get(
    "/sla/compliance",
    response={200: ComplianceOut, **_ERRORS},
    auth=TokenAuth("reports:read"),
    url_name="sla_compliance",
    summary="SLA compliance per team, rep and week",
    description=(
        "For the clocks of `kind` due in the last `weeks` weeks (Monday to Monday in the team's "
        "time zone, else the token owner's): per team, per rep and for the team queue, each "
        "week and the whole period: met, breached, share met with its count and 95 % Wilson "
        "interval, running clocks not yet due (beside), median and p90 response time in "
        "business hours. Needs `reports:read`."
    ),
)
def sla_compliance_get(request: HttpRequest, query: Query[ComplianceQuery]) -> dict[str, Any]:
    user: User = request.auth.user  # type: ignore[attr-defined]  # TokenAuth sets the ApiToken
    team = team_by_key(key=query.team) if query.team else None
    report = sla_compliance(
        weeks=query.weeks,
        now=timezone.now(),
        tz=report_zone(user=user, team=team),
        team=team,
        kind=query.kind,
    )
    return compliance_json(report)


class MarketingQuery(Schema):
    periods: int = Field(
        DEFAULT_PERIODS, ge=1, le=MAX_WEEKS, description="How many ended periods, newest kept."
    )


@router.get(
    "/sla/marketing",
    response={200: MarketingOut, **_ERRORS},
    auth=TokenAuth("reports:read"),
    url_name="sla_marketing",
    summary="Marketing's SLA per period",
    description=(
        "The stored result of each ended period (the agreement's week or month), oldest first: "
        "MQLs delivered vs target, good-fit share and acceptance with counts and 95 % Wilson "
        "intervals, their targets and whether each was met. Needs `reports:read`."
    ),
)
def sla_marketing_get(request: HttpRequest, query: Query[MarketingQuery]) -> dict[str, Any]:
    return marketing_json(marketing_periods(periods=query.periods))

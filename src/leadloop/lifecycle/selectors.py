"""Reads over a lead's history: its stage changes and touches as one timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Min, Q, QuerySet

from leadloop.accounts.models import Role, User
from leadloop.capture.models import Touch
from leadloop.leads.models import FUNNEL, Lead, Stage
from leadloop.lifecycle.models import StageChange


def stage_history(*, lead_id: int) -> QuerySet[StageChange]:
    """The lead's stage changes, newest first, with the acting user."""
    return (
        StageChange.objects.filter(lead_id=lead_id).select_related("actor").order_by("-at", "-id")
    )


def touch_history(*, lead_id: int) -> QuerySet[Touch]:
    """The lead's touches, newest first, with campaign and content offer."""
    return (
        Touch.objects.filter(lead_id=lead_id)
        .select_related("campaign", "content_offer")
        .order_by("-occurred_at", "-id")
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: Literal["touch", "stage_change"]
    touch: Touch | None = None
    stage_change: StageChange | None = None
    # The stage change's reason in words, filled by callers that know the agreement
    # (``loop.selectors.lead_timeline_explained``): "Not now", "back to nurture, ...".
    reason_label: str = ""
    reason_next_step: str = ""


def lead_timeline(*, lead_id: int, limit: int = 200) -> list[TimelineEntry]:
    """Touches and stage changes merged, newest first, at most `limit` of each."""
    entries = [
        TimelineEntry(at=t.occurred_at, kind="touch", touch=t)
        for t in touch_history(lead_id=lead_id)[:limit]
    ] + [
        TimelineEntry(at=c.at, kind="stage_change", stage_change=c)
        for c in stage_history(lead_id=lead_id)[:limit]
    ]
    # A stage change and the touch that caused it can share a timestamp: show the change first.
    entries.sort(key=lambda e: (e.at, e.kind == "stage_change"), reverse=True)
    return entries


# --- Dashboard figures -------------------------------------------------------------------------
# Periods are half-open [start, end) in the viewer's time zone (METRICS.md, "Units"); the caller
# passes "now" and the zone, so every figure on one page shares the same instant.

OPEN_SALES_STAGES: tuple[Stage, ...] = (Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
_SIDE_STAGES: tuple[Stage, ...] = (Stage.NURTURE, Stage.DISQUALIFIED)


@dataclass(frozen=True)
class Period:
    start: dt.datetime  # inclusive, aware
    end: dt.datetime  # exclusive, aware

    @property
    def last_day(self) -> dt.date:
        """The last calendar day inside the period, in the period's own zone."""
        return (self.end - dt.timedelta(microseconds=1)).date()


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def month_period(*, now: dt.datetime, tz: ZoneInfo) -> Period:
    """The calendar month containing `now` in `tz`."""
    today = now.astimezone(tz).date()
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return Period(_midnight(first, tz), _midnight(following, tz))


def week_period(*, now: dt.datetime, tz: ZoneInfo, weeks_back: int = 0) -> Period:
    """The Monday-to-Sunday week containing `now` in `tz`, or one `weeks_back` before it."""
    today = now.astimezone(tz).date()
    monday = today - dt.timedelta(days=today.weekday(), weeks=weeks_back)
    return Period(_midnight(monday, tz), _midnight(monday + dt.timedelta(days=7), tz))


def quarter_period(*, now: dt.datetime, tz: ZoneInfo) -> Period:
    """The calendar quarter containing `now` in `tz`."""
    today = now.astimezone(tz).date()
    first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    following = (first + dt.timedelta(days=95)).replace(day=1)
    return Period(_midnight(first, tz), _midnight(following, tz))


@dataclass(frozen=True)
class Rate:
    """A share with the count behind it ("12 of 80"); METRICS.md, "Honesty rules"."""

    count: int
    of: int

    @property
    def percent(self) -> int | None:
        """Rounded percentage, or None when there are fewer than 10 in the denominator."""
        if self.of < 10:
            return None
        return round(100 * self.count / self.of)

    @property
    def small_sample(self) -> bool:
        return 10 <= self.of < 30


@dataclass(frozen=True)
class StageCount:
    stage: Stage
    count: int


@dataclass(frozen=True)
class StageCounts:
    rows: tuple[StageCount, ...]  # funnel order, then the side stages; zero-filled

    @property
    def total(self) -> int:
        return sum(r.count for r in self.rows)

    @property
    def largest(self) -> int:
        return max((r.count for r in self.rows), default=0)


def _zero_filled(counts: dict[str, int]) -> StageCounts:
    return StageCounts(
        rows=tuple(StageCount(stage=s, count=counts.get(s, 0)) for s in (*FUNNEL, *_SIDE_STAGES))
    )


def stage_entries(*, period: Period) -> StageCounts:
    """How many times leads entered each stage inside `period` (from the StageChange log)."""
    counts = (
        StageChange.objects.filter(at__gte=period.start, at__lt=period.end)
        .values("to_stage")
        .annotate(n=Count("id"))
        .order_by()
    )
    return _zero_filled({row["to_stage"]: row["n"] for row in counts})


def stage_now() -> StageCounts:
    """How many leads are in each stage right now."""
    counts = Lead.objects.values("stage").annotate(n=Count("id")).order_by()
    return _zero_filled({row["stage"]: row["n"] for row in counts})


@dataclass(frozen=True)
class WeekOverWeek:
    this_week: int
    last_week: int
    period: Period
    previous: Period

    @property
    def change(self) -> int:
        return self.this_week - self.last_week


def mqls_week_over_week(*, now: dt.datetime, tz: ZoneInfo) -> WeekOverWeek:
    """Entries into MQL this week (so far) and in the whole of last week."""
    this, last = week_period(now=now, tz=tz), week_period(now=now, tz=tz, weeks_back=1)
    figures = StageChange.objects.filter(
        to_stage=Stage.MQL, at__gte=last.start, at__lt=this.end
    ).aggregate(
        this_week=Count("id", filter=Q(at__gte=this.start)),
        last_week=Count("id", filter=Q(at__lt=this.start)),
    )
    return WeekOverWeek(
        this_week=figures["this_week"], last_week=figures["last_week"], period=this, previous=last
    )


@dataclass(frozen=True)
class OpenLeads:
    total: int
    leads: tuple[Lead, ...]  # at most the limit, longest in their stage first


def open_leads_owned(*, owner_id: int, limit: int = 25) -> OpenLeads:
    """A person's leads in MQL, SAL, SQL or opportunity, waiting longest first."""
    leads = Lead.objects.filter(owner_id=owner_id, stage__in=OPEN_SALES_STAGES)
    shown = leads.select_related("company").order_by(
        F("stage_changed_at").asc(nulls_first=True), "created_at", "id"
    )[:limit]
    return OpenLeads(total=leads.count(), leads=tuple(shown))


@dataclass(frozen=True)
class RepLoad:
    rep_id: int
    name: str
    mql: int
    sal: int
    sql: int
    opportunity: int
    oldest_since: dt.datetime | None  # when the longest-waiting open lead entered its stage

    @property
    def open_total(self) -> int:
        return self.mql + self.sal + self.sql + self.opportunity


def team_load(*, team_id: int) -> tuple[RepLoad, ...]:
    """The open leads of each sales rep of a team, by stage; the busiest rep first."""

    def _n(stage: Stage) -> Count:
        return Count("owned_leads", filter=Q(owned_leads__stage=stage))

    reps = (
        User.objects.filter(team_id=team_id, role=Role.SALES_REP, is_active=True)
        .annotate(
            mql=_n(Stage.MQL),
            sal=_n(Stage.SAL),
            sql=_n(Stage.SQL),
            opportunity=_n(Stage.OPPORTUNITY),
            oldest_since=Min(
                "owned_leads__stage_changed_at",
                filter=Q(owned_leads__stage__in=OPEN_SALES_STAGES),
            ),
        )
        .order_by("first_name", "last_name", "username")
    )
    rows = [
        RepLoad(
            rep_id=u.pk,
            name=str(u),
            mql=u.mql,
            sal=u.sal,
            sql=u.sql,
            opportunity=u.opportunity,
            oldest_since=u.oldest_since,
        )
        for u in reps
    ]
    return tuple(sorted(rows, key=lambda r: -r.open_total))


@dataclass(frozen=True)
class SourceRow:
    source: str  # "" for leads without a recorded first-touch source
    new_leads: int
    mqls: int


@dataclass(frozen=True)
class SourceSummary:
    period: Period
    new_leads: int
    mqls: int
    rows: tuple[SourceRow, ...]  # most MQLs first, then most new leads


def sources_in(*, period: Period) -> SourceSummary:
    """New leads (by creation) and MQL entries (by StageChange) per first-touch source."""
    created = dict(
        Lead.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
        .values("source")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("source", "n")
    )
    qualified = dict(
        StageChange.objects.filter(to_stage=Stage.MQL, at__gte=period.start, at__lt=period.end)
        .values("lead__source")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("lead__source", "n")
    )
    rows = sorted(
        (
            SourceRow(source=s, new_leads=created.get(s, 0), mqls=qualified.get(s, 0))
            for s in created.keys() | qualified.keys()
        ),
        key=lambda r: (-r.mqls, -r.new_leads, r.source),
    )
    return SourceSummary(
        period=period,
        new_leads=sum(created.values()),
        mqls=sum(qualified.values()),
        rows=tuple(rows),
    )


@dataclass(frozen=True)
class CohortStep:
    stage: Stage
    reached: Rate  # of the cohort's MQLs


@dataclass(frozen=True)
class MqlCohort:
    period: Period
    mqls: int
    still_open: int  # still in MQL, SAL, SQL or opportunity: the cohort is maturing
    steps: tuple[CohortStep, ...]


def mql_cohort(*, period: Period) -> MqlCohort:
    """Of the leads first qualified inside `period`, how many reached each later stage.

    First cycles only (a lead's first MQL and its first entry into each later stage).
    """
    later = (Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)
    figures = Lead.objects.filter(
        mql_first_at__gte=period.start, mql_first_at__lt=period.end
    ).aggregate(
        mqls=Count("id"),
        still_open=Count("id", filter=Q(stage__in=OPEN_SALES_STAGES)),
        **{s.value: Count("id", filter=Q(**{f"{s.value}_first_at__isnull": False})) for s in later},
    )
    return MqlCohort(
        period=period,
        mqls=figures["mqls"],
        still_open=figures["still_open"],
        steps=tuple(
            CohortStep(stage=s, reached=Rate(count=figures[s.value], of=figures["mqls"]))
            for s in later
        ),
    )

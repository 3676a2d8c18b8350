"""Reports over the SLA clocks and marketing's delivery: the rep's inbox, compliance per team,
rep and week, marketing's delivery per period, and both teams' scorecards.

The page, its charts, the CSV export and ``GET /api/v1/sla/...`` all read these selectors, so
they show the same numbers. Definitions are METRICS.md's:

- **Compliance** of a group of clocks (a team, a rep, the team's queue) in a week = met /
  (met + breached) among its clocks *due* in that week (the week of the due time, in the
  report's time zone). A running clock already due counts as breached; running clocks not yet
  due, and clocks cancelled or reassigned before a breach, are counted beside, never in the
  share (the same tally as ``sla.selectors.compliance_rows``).
- **Response time** = business time from start to stop, in the clock's team calendar, of the
  clocks stopped by their goal event; median and p90 (linear interpolation).
- **Every rate** carries its count and a 95 % Wilson score interval; fewer than 30 in the
  denominator is a small sample, fewer than 10 is "not enough data" instead of a number.
- **Marketing**: the stored ``MarketingSlaResult`` of each ended period (delivered vs target,
  good-fit share, acceptance = accepted / answered); the running period is counted the same
  way, live, up to now (``marketing_delivery_so_far``).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery

from leadloop.accounts.models import Role, Team, TeamKind, User
from leadloop.agreements.selectors import agreement_in_force
from leadloop.capture.models import Touch, TouchKind
from leadloop.common.businesstime import business_time_between
from leadloop.common.errors import NotFound
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.selectors import Period, week_period
from leadloop.scoring.rules import engagement_now, engagement_score
from leadloop.scoring.services import engagement_rules_active
from leadloop.sla.models import ClockKind, ClockOutcome, MarketingSlaResult, SlaClock
from leadloop.sla.selectors import OpenClock, marketing_period, open_clocks, percentile
from leadloop.sla.services import CONTACT_TOUCH_KINDS, delivery_counts
from leadloop.sla.timing import Calendars

Z: Final = 1.96  # 95 %
NOT_ENOUGH_DATA: Final = 10  # fewer in the denominator: no rate is shown
SMALL_SAMPLE: Final = 30  # fewer: the rate is marked "small sample"
MAX_WEEKS: Final = 52
Sample = Literal["none", "not_enough_data", "small_sample", "ok"]


# --- Rates ----------------------------------------------------------------------------------------


def wilson_interval(count: int, n: int, *, z: float = Z) -> tuple[float, float] | None:
    """The Wilson score interval of `count` successes in `n` (METRICS.md, "Honesty rules"):
    ``(p + z²/2n ± z·√(p(1-p)/n + z²/4n²)) / (1 + z²/n)``; None when `n` is 0."""
    if n <= 0:
        return None
    p = count / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    scale = 1 + z2 / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


@dataclass(frozen=True)
class Share:
    """A rate with the count behind it ("12 of 14") and its 95 % Wilson interval."""

    count: int
    of: int

    @property
    def value(self) -> float | None:
        """None when nothing is counted: "no data" is not 0 %."""
        return self.count / self.of if self.of else None

    @property
    def low(self) -> float | None:
        interval = wilson_interval(self.count, self.of)
        return interval[0] if interval else None

    @property
    def high(self) -> float | None:
        interval = wilson_interval(self.count, self.of)
        return interval[1] if interval else None

    @property
    def sample(self) -> Sample:
        if self.of == 0:
            return "none"
        if self.of < NOT_ENOUGH_DATA:
            return "not_enough_data"
        return "small_sample" if self.of < SMALL_SAMPLE else "ok"

    @property
    def percent(self) -> int | None:
        """The rate in whole percent as shown; None below ten ("not enough data")."""
        if self.value is None or self.of < NOT_ENOUGH_DATA:
            return None
        return round(100 * self.value)

    @property
    def text(self) -> str:
        return f"{self.count} of {self.of}"

    @property
    def title(self) -> str:
        """The hover text: the count, the rate and its interval, or why there is no rate."""
        if self.of == 0:
            return "Nothing counted yet"
        if self.of < NOT_ENOUGH_DATA:
            return f"{self.text}: fewer than {NOT_ENOUGH_DATA}, not enough data for a rate"
        low, high = self.low or 0.0, self.high or 0.0
        small = "; small sample" if self.of < SMALL_SAMPLE else ""
        return (
            f"{self.text} ({self.percent} %); 95 % Wilson interval "
            f"{round(100 * low)}-{round(100 * high)} %{small}"
        )


# --- Time zones and teams -------------------------------------------------------------------------


def report_zone(*, user: User | None, team: Team | None = None) -> ZoneInfo:
    """The zone a report's periods are cut in: the team's when one is chosen, else the viewer's,
    else their team's, else the installation's default (METRICS.md, "Period")."""
    names = [team.time_zone] if team is not None else []
    if user is not None:
        names += [user.time_zone, user.team.time_zone if user.team else ""]
    names.append(settings.LEADLOOP_DEFAULT_TIME_ZONE)
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def team_by_key(*, key: str) -> Team:
    """A team by its id or its name (case-insensitive). Raises NotFound naming the value."""
    key = key.strip()
    found = (
        Team.objects.filter(pk=int(key)).first()
        if key.isdigit()
        else Team.objects.filter(name__iexact=key).first()
    )
    if found is None:
        names = ", ".join(Team.objects.filter(kind=TeamKind.SALES).values_list("name", flat=True))
        raise NotFound(
            f"No team {key!r}; the sales teams are: {names or 'none yet'}.", loc=("team",)
        )
    return found


def weeks_ending(*, now: dt.datetime, tz: ZoneInfo, weeks: int) -> list[Period]:
    """The `weeks` Monday-to-Monday weeks in `tz` up to and including the one containing
    `now`, oldest first."""
    return [week_period(now=now, tz=tz, weeks_back=back) for back in reversed(range(weeks))]


# --- Compliance -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """The clocks of one group due in [start, end): the module docstring's definitions."""

    start: dt.datetime
    end: dt.datetime
    met: int
    breached: int
    running: int  # not yet due: beside, never counted
    closed_otherwise: int  # cancelled or reassigned before a breach
    median_hours: float | None
    p90_hours: float | None
    responses: int  # how many response times the median and p90 are of

    @property
    def share_met(self) -> Share:
        return Share(count=self.met, of=self.met + self.breached)


Level = Literal["team", "rep", "queue"]


@dataclass(frozen=True)
class ComplianceSeries:
    """One team, one rep of it, or its queue: a tally per week and one for the whole period."""

    level: Level
    team_id: int | None
    team_name: str
    owner_id: int | None
    owner_name: str
    weeks: tuple[Tally, ...]
    total: Tally

    @property
    def label(self) -> str:
        if self.level == "team":
            return self.team_name
        return self.owner_name


@dataclass(frozen=True)
class ComplianceReport:
    kind: ClockKind
    period: Period
    time_zone: str
    weeks: tuple[Period, ...]
    series: tuple[ComplianceSeries, ...]  # each team, then its reps by name, then its queue
    as_of: dt.datetime

    @property
    def teams(self) -> list[ComplianceSeries]:
        return [s for s in self.series if s.level == "team"]

    @property
    def people(self) -> list[ComplianceSeries]:
        return [s for s in self.series if s.level != "team"]


class _Hours:
    """Response times in business hours, each clock's computed once per report."""

    def __init__(self) -> None:
        self._calendars = Calendars()
        self._hours: dict[int, float] = {}

    def of(self, clock: SlaClock) -> float | None:
        if clock.stopped_at is None or not clock.goal_reached:
            return None
        if clock.pk not in self._hours:
            cal = self._calendars.of(clock.team)
            spent = business_time_between(clock.started_at, clock.stopped_at, cal)
            self._hours[clock.pk] = spent.total_seconds() / 3600
        return self._hours[clock.pk]


def _tally(clocks: Iterable[SlaClock], period: Period, *, now: dt.datetime, hours: _Hours) -> Tally:
    met = breached = running = other = 0
    times: list[float] = []
    for clock in clocks:
        if clock.outcome == ClockOutcome.MET:
            met += 1
        elif clock.outcome == ClockOutcome.BREACHED or (
            clock.stopped_at is None and clock.due_at <= now
        ):
            breached += 1
        elif clock.stopped_at is None:
            running += 1
        else:
            other += 1
        spent = hours.of(clock)
        if spent is not None:
            times.append(spent)
    times.sort()
    return Tally(
        start=period.start,
        end=period.end,
        met=met,
        breached=breached,
        running=running,
        closed_otherwise=other,
        median_hours=statistics.median(times) if times else None,
        p90_hours=percentile(times, 0.9) if times else None,
        responses=len(times),
    )


def _series(
    level: Level,
    team: Team | None,
    owner: User | None,
    clocks: Sequence[SlaClock],
    weeks: Sequence[Period],
    period: Period,
    *,
    tz: ZoneInfo,
    now: dt.datetime,
    hours: _Hours,
) -> ComplianceSeries:
    by_week: dict[dt.date, list[SlaClock]] = defaultdict(list)
    for clock in clocks:
        day = clock.due_at.astimezone(tz).date()
        by_week[day - dt.timedelta(days=day.weekday())].append(clock)
    team_name = team.name if team is not None else "No team"
    return ComplianceSeries(
        level=level,
        team_id=team.pk if team is not None else None,
        team_name=team_name,
        owner_id=owner.pk if owner is not None else None,
        owner_name=(
            str(owner) if owner is not None else ("" if level == "team" else f"{team_name} queue")
        ),
        weeks=tuple(
            _tally(by_week.get(w.start.date(), ()), w, now=now, hours=hours) for w in weeks
        ),
        total=_tally(clocks, period, now=now, hours=hours),
    )


def sla_compliance(
    *,
    weeks: int,
    now: dt.datetime,
    tz: ZoneInfo,
    team: Team | None = None,
    kind: ClockKind = ClockKind.FIRST_RESPONSE,
) -> ComplianceReport:
    """Compliance of the clocks of `kind` due in the last `weeks` weeks in `tz` (this one
    included), per team (`team`, else every sales team and any other team holding clocks),
    per rep of it and its queue (module docstring). Sales reps of a team with no clock due
    are listed with zeros; anyone else holding clocks of the team is listed too. Raises ValueError for `weeks` outside 1-52."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be 1 to {MAX_WEEKS}, not {weeks}")
    periods = weeks_ending(now=now, tz=tz, weeks=weeks)
    period = Period(periods[0].start, periods[-1].end)
    rows = SlaClock.objects.filter(
        kind=kind, due_at__gte=period.start, due_at__lt=period.end
    ).select_related("owner", "team")
    teams: list[Team] = (
        [team]
        if team is not None
        else list(Team.objects.filter(Q(kind=TeamKind.SALES) | Q(sla_clocks__in=rows)).distinct())
    )
    if team is not None:
        rows = rows.filter(team=team)
    by_team: dict[int | None, list[SlaClock]] = defaultdict(list)
    for clock in rows:
        by_team[clock.team_id].append(clock)
    members = _sales_members([t.pk for t in teams])
    hours = _Hours()

    def make(
        level: Level, each: Team | None, owner: User | None, clocks: Sequence[SlaClock]
    ) -> ComplianceSeries:
        return _series(level, each, owner, clocks, periods, period, tz=tz, now=now, hours=hours)

    series: list[ComplianceSeries] = []
    ordered: list[Team | None] = [*sorted(teams, key=lambda t: t.name.lower())]
    if None in by_team and team is None:
        ordered.append(None)
    for each in ordered:
        key = each.pk if each is not None else None
        clocks = by_team.get(key, [])
        series.append(make("team", each, None, clocks))
        by_owner: dict[int | None, list[SlaClock]] = defaultdict(list)
        people: dict[int, User] = {u.pk: u for u in members.get(key, [])}
        for clock in clocks:
            by_owner[clock.owner_id].append(clock)
            if clock.owner is not None:
                people.setdefault(clock.owner.pk, clock.owner)
        for person in sorted(people.values(), key=lambda u: (str(u).lower(), u.pk)):
            series.append(make("rep", each, person, by_owner.get(person.pk, [])))
        if by_owner.get(None):
            series.append(make("queue", each, None, by_owner[None]))
    return ComplianceReport(
        kind=kind,
        period=period,
        time_zone=str(tz),
        weeks=tuple(periods),
        series=tuple(series),
        as_of=now,
    )


def _sales_members(team_ids: Sequence[int]) -> dict[int | None, list[User]]:
    found: dict[int | None, list[User]] = defaultdict(list)
    # Reps only: a manager appears when they hold clocks themselves.
    people = User.objects.filter(team_id__in=team_ids, role=Role.SALES_REP, is_active=True)
    for person in people:
        found[person.team_id].append(person)
    return found


# --- Marketing ------------------------------------------------------------------------------------


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


# --- Scorecards -----------------------------------------------------------------------------------


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
    hours = _Hours()
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
        last_week=_tally([c for c in due if c.due_at < last.end], last, now=now, hours=hours),
        this_week=_tally([c for c in due if c.due_at >= this.start], this, now=now, hours=hours),
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
    counts = delivery_counts(start=period.start, end=min(now + _A_MOMENT, period.end))
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


# "Up to now" includes a hand-off made at this very instant.
_A_MOMENT: Final = dt.timedelta(microseconds=1)


# --- The inbox ------------------------------------------------------------------------------------

CountdownState = Literal["green", "amber", "red", "none"]
# What a lead did: every touch but the ones sales makes (they answer the clock, they are not
# the lead's doing).
_LEAD_TOUCH_KINDS = [k for k in TouchKind if k not in CONTACT_TOUCH_KINDS]
INBOX_STAGES: Final = (Stage.MQL, Stage.SAL)


@dataclass(frozen=True)
class InboxRow:
    """One lead of an inbox: its soonest-due running clock (None: an open lead without one),
    its scores, and what it did last."""

    lead: Lead
    clock: OpenClock | None
    more_clocks: int  # other running clocks of the lead
    fit_grade: str | None  # None: not scored
    fit_score: int | None
    engagement: int | None  # 0-100 now (decayed)
    predicted_percent: int | None
    last_touch: str  # "Webinar attendance"; "" when it has none
    last_touch_at: dt.datetime | None

    @property
    def state(self) -> CountdownState:
        return self.clock.state if self.clock is not None else "none"

    @property
    def holder_id(self) -> int | None:
        return self.clock.owner_id if self.clock is not None else self.lead.owner_id


@dataclass(frozen=True)
class InboxGroup:
    """A manager's view: one rep's (or the queue's) leads, soonest due first."""

    owner_id: int | None
    name: str
    rows: tuple[InboxRow, ...]

    @property
    def late(self) -> int:
        return sum(r.state == "red" for r in self.rows)


def inbox_rows(*, owner: User, now: dt.datetime) -> list[InboxRow]:
    """`owner`'s inbox: the leads they hold a running clock for, soonest due first, then their
    MQLs and SALs without a running clock, waiting longest first."""
    clocks = open_clocks(owner=owner, now=now)
    with_clock = _soonest_per_lead(clocks)
    others = (
        Lead.objects.filter(owner=owner, stage__in=INBOX_STAGES)
        .exclude(pk__in=list(with_clock))
        .order_by("stage_changed_at", "pk")
        .values_list("pk", flat=True)
    )
    return _rows([*with_clock.items(), *((pk, []) for pk in others)], now=now)


def team_inbox(*, team: Team, now: dt.datetime) -> list[InboxGroup]:
    """The running clocks of `team` (its members' and its queue's), one group per holder: the
    queue first (nobody has those leads yet), then each rep by their soonest due time."""
    rows = _rows(list(_soonest_per_lead(open_clocks(team=team, now=now)).items()), now=now)
    groups: dict[int | None, list[InboxRow]] = defaultdict(list)
    names: dict[int | None, str] = {}
    for row in rows:
        groups[row.holder_id].append(row)
        clock = row.clock
        names[row.holder_id] = clock.owner_name if clock else str(row.lead.owner or "")
    # Stable: the reps keep the order of their soonest due clock; the queue comes first.
    order = sorted(groups, key=lambda k: k is not None)
    return [InboxGroup(owner_id=k, name=names[k], rows=tuple(groups[k])) for k in order]


def inbox_row(*, lead_id: int, now: dt.datetime) -> InboxRow | None:
    """The inbox row of one lead, as its holder's inbox shows it; None when it belongs in no
    inbox any more (answered back to marketing, merged away, or won)."""
    lead = Lead.objects.select_related("owner", "queue").filter(pk=lead_id).first()
    if lead is None:
        return None
    clocks: list[OpenClock] = []
    if lead.owner is not None:
        clocks = open_clocks(owner=lead.owner, now=now)
    elif lead.queue is not None:
        clocks = open_clocks(team=lead.queue, now=now)
    mine = [c for c in clocks if c.lead_id == lead_id]
    if not mine and (lead.stage not in INBOX_STAGES or lead.owner_id is None):
        return None
    return _rows([(lead_id, mine)], now=now)[0]


def _soonest_per_lead(clocks: Sequence[OpenClock]) -> dict[int, list[OpenClock]]:
    """The clocks by lead, in the order of each lead's soonest due clock (`clocks` are sorted)."""
    found: dict[int, list[OpenClock]] = {}
    for clock in clocks:
        found.setdefault(clock.lead_id, []).append(clock)
    return found


def _rows(leads: Sequence[tuple[int, Sequence[OpenClock]]], *, now: dt.datetime) -> list[InboxRow]:
    if not leads:
        return []
    last = Touch.objects.filter(lead_id=OuterRef("pk"), kind__in=_LEAD_TOUCH_KINDS).order_by(
        "-occurred_at", "-id"
    )
    found = {
        lead.pk: lead
        for lead in Lead.objects.filter(pk__in=[pk for pk, _ in leads])
        .select_related("company", "owner", "queue", "score")
        .annotate(
            last_touch_kind=Subquery(last.values("kind")[:1]),
            last_touch_at=Subquery(last.values("occurred_at")[:1]),
        )
    }
    rules = engagement_rules_active()
    half_life, scale = (rules.half_life_days, rules.scale) if rules else (30.0, 50.0)
    rows: list[InboxRow] = []
    for pk, clocks in leads:
        lead = found.get(pk)
        if lead is None:
            continue
        score = getattr(lead, "score", None)
        kind = getattr(lead, "last_touch_kind", None)
        rows.append(
            InboxRow(
                lead=lead,
                clock=clocks[0] if clocks else None,
                more_clocks=max(0, len(clocks) - 1),
                fit_grade=score.fit_grade if score else None,
                fit_score=score.fit_score if score else None,
                engagement=(
                    engagement_score(engagement_now(score.engagement_sum, now, half_life), scale)
                    if score
                    else None
                ),
                predicted_percent=(
                    round(100 * score.predicted_probability)
                    if score and score.predicted_probability is not None
                    else None
                ),
                last_touch=str(TouchKind(kind).label) if kind else "",
                last_touch_at=getattr(lead, "last_touch_at", None),
            )
        )
    return rows


def countdown_text(left: dt.timedelta) -> str:
    """Business time left, short: '45 min', '7.5 h'; the sign is the caller's business."""
    seconds = abs(left.total_seconds())
    if seconds < 3600:
        return f"{max(1, round(seconds / 60)) if seconds else 0} min"
    return f"{round(seconds / 3600, 1):g} h"

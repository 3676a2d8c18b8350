"""Compliance per team, rep and week: met / (met + breached) among the clocks due in each
week, and response times (median, p90) of the clocks stopped by their goal event.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from django.db.models import Q

from leadloop.accounts.models import Role, Team, TeamKind, User
from leadloop.common.businesstime import business_time_between
from leadloop.lifecycle.selectors import Period
from leadloop.sla.models import ClockKind, ClockOutcome, SlaClock
from leadloop.sla.reports.rates import Share
from leadloop.sla.reports.zones import MAX_WEEKS, weeks_ending
from leadloop.sla.selectors import percentile
from leadloop.sla.timing import Calendars


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


class Hours:
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


def tally(clocks: Iterable[SlaClock], period: Period, *, now: dt.datetime, hours: Hours) -> Tally:
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
    hours: Hours,
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
        weeks=tuple(tally(by_week.get(w.start.date(), ()), w, now=now, hours=hours) for w in weeks),
        total=tally(clocks, period, now=now, hours=hours),
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
    hours = Hours()

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

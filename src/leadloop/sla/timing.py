"""When a clock is due: the agreed budget in its holder's business calendar, paused while the
owner is out of office.

Every instant here comes from ``common/businesstime.py``; this module only decides which
calendar counts and where the absences cut the running time out.

Calendars
---------
A clock counts in its team's calendar (``accounts.selectors.team_calendar``): the owner's team,
or the queue's team. A person without a team counts in the *default calendar*: the installation's
time zone (LEADLOOP_DEFAULT_TIME_ZONE), a new team's hours (Monday to Friday 09:00-17:30) and no
public holidays.

Budgets
-------
Hours budgets (first response, contact attempt) are business time: ``add_business_time``.
Day budgets (decision) keep the wall-clock time: ``add_business_days`` (two business days after
Friday 16:00 is Tuesday 16:00); a fraction of a day is that fraction of the landing weekday's
opening hours. Either way a clock *needs* the business time from its start to that due time,
``needed``; the selectors measure the share left against it.

Pauses (exact)
--------------
When a clock pauses, the owner's absences (``OutOfOffice``, merged where they overlap) are cut
out of its running time: the due time is the instant at which the business time outside the
absences, counted from the start, reaches ``needed``. So the due time moves by exactly the
business time of the overlap, and an absence that starts after the due time moves nothing.
``paused`` records how much it moved. The reminder is placed the same way, ``remind_before`` of
running time before the due time. A due time that uses up a day exactly is that day's closing
time (as ``add_business_time`` decides).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings

from leadloop.accounts.models import Team
from leadloop.accounts.selectors import team_calendar
from leadloop.agreements.schema import SalesSla
from leadloop.common.businesstime import (
    BusinessCalendar,
    add_business_days,
    add_business_time,
    business_time_between,
    parse_opening_hours,
)
from leadloop.sla.models import ClockKind

_ZERO = dt.timedelta(0)
DEFAULT_OPENING_HOURS = {str(day): ["09:00", "17:30"] for day in range(5)}

Absences = Sequence[tuple[dt.datetime, dt.datetime]]


def default_calendar() -> BusinessCalendar:
    """The calendar of a person without a team (see the module docstring)."""
    return BusinessCalendar(
        tz=ZoneInfo(settings.LEADLOOP_DEFAULT_TIME_ZONE),
        hours=parse_opening_hours(DEFAULT_OPENING_HOURS),
    )


@dataclass
class Calendars:
    """Calendars by team id, built once per sweep or request (building one costs a query)."""

    _by_team: dict[int | None, BusinessCalendar] = field(default_factory=dict)

    def of(self, team: Team | None) -> BusinessCalendar:
        key = team.pk if team is not None else None
        cal = self._by_team.get(key)
        if cal is None:
            cal = team_calendar(team) if team is not None else default_calendar()
            self._by_team[key] = cal
        return cal


@dataclass(frozen=True)
class Budget:
    """What the agreement gives a clock: business hours, or business days."""

    hours: float | None = None
    days: float | None = None


def budget_for(kind: ClockKind | str, sla: SalesSla) -> Budget:
    """The agreed budget of a clock of `kind`."""
    if kind == ClockKind.FIRST_RESPONSE:
        return Budget(hours=sla.first_response_hours)
    if kind == ClockKind.CONTACT_ATTEMPT:
        return Budget(hours=sla.contact_attempt_hours)
    return Budget(days=sla.decision_days)


@dataclass(frozen=True)
class Schedule:
    due_at: dt.datetime
    remind_at: dt.datetime | None
    needed: dt.timedelta  # business time the clock must run
    paused: dt.timedelta  # business time the absences moved the due time by


def schedule(
    *,
    start: dt.datetime,
    budget: Budget,
    remind_before: dt.timedelta | None,
    cal: BusinessCalendar,
    absences: Absences = (),
) -> Schedule:
    """Due and reminder times of a clock started at `start` (see the module docstring).

    No reminder when `remind_before` is empty or not shorter than the running time needed:
    it would come at or before the start.
    """
    base = _base_due(start, budget, cal)
    needed = business_time_between(start, base, cal)
    cut = merge_absences(absences, after=start)
    due = base if not _overlaps(cut, start, base) else _instant_after(start, needed, cal, cut)
    remind_at = None
    if remind_before and _ZERO < remind_before < needed:
        remind_at = _instant_after(start, needed - remind_before, cal, cut)
    paused = business_time_between(start, due, cal) - needed
    return Schedule(due_at=due, remind_at=remind_at, needed=needed, paused=paused)


def running_time_between(
    start: dt.datetime, end: dt.datetime, cal: BusinessCalendar, absences: Absences = ()
) -> dt.timedelta:
    """Business time in [start, end) outside the absences; negative when `end` is earlier
    (then the absences are not cut out: a late clock's lateness is plain business time)."""
    if end < start:
        return -business_time_between(end, start, cal)
    total = business_time_between(start, end, cal)
    for away_from, away_until in merge_absences(absences, after=start):
        if away_from >= end:
            break
        total -= business_time_between(max(away_from, start), min(away_until, end), cal)
    return total


def merge_absences(
    absences: Iterable[tuple[dt.datetime, dt.datetime]], *, after: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The absences ending after `after`, sorted, overlapping or touching ones merged."""
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for away_from, away_until in sorted(a for a in absences if a[1] > after):
        if merged and away_from <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], away_until))
        else:
            merged.append((away_from, away_until))
    return merged


def business_text(duration: dt.timedelta) -> str:
    """A business duration for people: '2 business hours', '1.5 business hours', '45 business
    minutes'; the sign is the caller's business."""
    seconds = abs(duration.total_seconds())
    if seconds < 3600:
        minutes = round(seconds / 60)
        return f"{minutes} business minute{'' if minutes == 1 else 's'}"
    hours = round(seconds / 3600, 1)
    return f"{_number(hours)} business hour{'' if hours == 1 else 's'}"


def _number(value: float) -> str:
    return f"{value:g}"


def _base_due(start: dt.datetime, budget: Budget, cal: BusinessCalendar) -> dt.datetime:
    if budget.days is None:
        return add_business_time(start, dt.timedelta(hours=budget.hours or 0), cal)
    whole = int(budget.days)
    due = add_business_days(start, whole, cal)
    fraction = budget.days - whole
    if fraction > 0:
        opens, closes = cal.hours.get(due.astimezone(cal.tz).weekday(), (dt.time(0), dt.time(0)))
        day = dt.datetime.combine(dt.date.min, closes) - dt.datetime.combine(dt.date.min, opens)
        due = add_business_time(due, day * fraction, cal)
    return due


def _overlaps(
    absences: Sequence[tuple[dt.datetime, dt.datetime]], start: dt.datetime, end: dt.datetime
) -> bool:
    return any(away_from < end and away_until > start for away_from, away_until in absences)


def _instant_after(
    start: dt.datetime,
    needed: dt.timedelta,
    cal: BusinessCalendar,
    absences: Sequence[tuple[dt.datetime, dt.datetime]],
) -> dt.datetime:
    """The instant at which business time outside `absences` (merged, sorted), counted from
    `start`, reaches `needed`."""
    at, remaining = start, needed
    for away_from, away_until in absences:
        if away_from > at:
            running = business_time_between(at, away_from, cal)
            if running >= remaining:
                return add_business_time(at, remaining, cal)
            remaining -= running
        at = max(at, away_until)
    return add_business_time(at, remaining, cal)

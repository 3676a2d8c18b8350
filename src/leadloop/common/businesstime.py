"""Calendar arithmetic: business hours, holidays and local wall-clock times.

Nothing else in Leadloop does calendar maths (STYLE.md section 7). Datetimes in must be aware
(any zone); datetimes out are aware UTC. Durations are exact ``timedelta``s of real elapsed time.

When a calendar is open
-----------------------
A `BusinessCalendar` is open on a local date when the date's weekday has opening hours and the
date is neither a public holiday (the ``holidays`` package, for a country and subdivision) nor a
company day off. On such a day it is open over the half-open interval [opens, closes): the
closing instant itself is closed. Each weekday has at most one interval, inside the day.

Every computation walks local dates one day at a time and turns each day's opening and closing
wall-clock times into UTC instants, so 23- and 25-hour days (DST) count exactly what the clock
on the office wall shows, and nothing loops minute by minute.

Times that do not exist, or exist twice (DST)
---------------------------------------------
An opening or closing time means *the first instant at which the local wall clock reads that
time or later* on that date. So:

- a time skipped by spring-forward (02:30 in Berlin on the last Sunday of March) is the instant
  the clocks jump (03:00 CEST): hours 02:30-05:00 open at 03:00 CEST, hours 01:00-02:30 close
  at the jump after one real hour, hours 02:15-02:45 are empty and that day is closed;
- a time that happens twice on fall-back (02:30 in Berlin on the last Sunday of October) is its
  first occurrence (CEST), for opening and closing alike.

The rule is monotonic, so a day's interval never ends before it starts. (`next_weekly_time`
predates the calendar and keeps its own documented rule; see its docstring.)

Edge-case choices
-----------------
- ``add_business_time(start, 0)`` is the first open moment at or after `start` (`start` itself
  when open): "zero business hours" is due as soon as the team is open.
- A duration that uses up a day exactly ends at that day's closing time, not at the next
  opening: Friday 17:29 plus one minute is Friday 17:30.
- ``business_time_between(start, end)`` is antisymmetric: negative when `end` is before `start`
  (time left until a due time turns negative once it is overdue), zero when they are equal.
- ``add_business_days`` keeps the local wall-clock time (see its docstring).

Thread safety: a calendar is immutable apart from its per-year cache of closed dates; the
``holidays`` object fills its years lazily and is only touched under a module lock, so one
calendar (and the shared ``holidays`` object of `calendar_from`) can serve many threads. Use
`holiday_name` or `closed_days`, not ``cal.holidays`` directly, from threaded code.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, Final, TypedDict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_lib
from holidays import HolidayBase

from leadloop.common.errors import LeadloopError

WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ONE_DAY: Final = timedelta(days=1)
_ZERO: Final = timedelta(0)
# A calendar whose every weekday is closed for this long (holidays, days off) has no future:
# refuse instead of walking dates forever.
_MAX_CLOSED_RUN: Final = 3653
_HHMM: Final = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
# The `holidays` objects fill years on first use (dict writes): all access goes through here.
_HOLIDAYS_LOCK: Final = threading.Lock()


class SlaCalendarInvalid(LeadloopError):
    code = "sla_calendar_invalid"


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    """When a team is open: a time zone, one opening interval per open weekday (0 = Monday;
    an absent weekday is closed), public holidays and company days off.

    `hours` maps a weekday to ``(opens, closes)`` naive local times with ``closes > opens``; at
    least one weekday must be open. `holidays` is a ``holidays.HolidayBase`` (years are loaded
    lazily when it was built without fixed years); the default has no holidays.
    Raises `SlaCalendarInvalid` naming the field when the hours or days off are malformed.
    """

    tz: ZoneInfo
    hours: Mapping[int, tuple[time, time]]
    holidays: HolidayBase = field(default_factory=HolidayBase)
    days_off: frozenset[date] = frozenset()
    _closed_by_year: dict[int, frozenset[date]] = field(
        default_factory=dict, init=False, repr=False
    )
    # Each local date's UTC interval, computed once: an SLA sweep asks about the same few days
    # over and over. Plain dict writes are atomic, so threads can share it without a lock.
    _interval_by_day: dict[date, tuple[datetime, datetime] | None] = field(
        default_factory=dict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.tz, ZoneInfo):
            raise SlaCalendarInvalid(f"tz: {self.tz!r} is not a ZoneInfo time zone", loc=("tz",))
        object.__setattr__(self, "hours", MappingProxyType(_checked_hours(self.hours)))
        days_off = frozenset(self.days_off)
        for day in days_off:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise SlaCalendarInvalid(
                    f"days_off: {day!r} is not a date", loc=("days_off", str(day))
                )
        object.__setattr__(self, "days_off", days_off)

    def _closed_dates(self, year: int) -> frozenset[date]:
        """Public holidays and days off in `year` (cached per year)."""
        closed = self._closed_by_year.get(year)
        if closed is None:
            with _HOLIDAYS_LOCK:
                # Touching a year makes an expanding HolidayBase load it; the neighbours too,
                # in case a country files a holiday (say an observed one) under another year.
                for near in (year - 1, year, year + 1):
                    self.holidays.get(date(near, 1, 1))
                public = {day for day in self.holidays if day.year == year}
            closed = frozenset(public | {day for day in self.days_off if day.year == year})
            self._closed_by_year[year] = closed
        return closed

    def _interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC instants `day` opens and closes, or None when it is closed all day."""
        try:
            return self._interval_by_day[day]
        except KeyError:
            pass
        interval: tuple[datetime, datetime] | None = None
        hours = self.hours.get(day.weekday())
        if hours is not None and day not in self._closed_dates(day.year):
            opens = _first_instant(day, hours[0], self.tz)
            closes = _first_instant(day, hours[1], self.tz)
            # Both times inside one DST gap map to the same instant: closed that day.
            interval = (opens, closes) if closes > opens else None
        self._interval_by_day[day] = interval
        return interval

    def _intervals_from(self, at: datetime) -> Iterator[tuple[date, datetime, datetime]]:
        """Each open day's (local date, opens, closes) that closes after `at`, in order."""
        # Start a day early: cheap insurance for zones whose clocks change around midnight,
        # where an instant's local date and the dates of the intervals around it can disagree.
        day = at.astimezone(self.tz).date() - _ONE_DAY
        closed_run = 0
        while True:
            interval = self._interval(day)
            if interval is None:
                closed_run += 1
                if closed_run > _MAX_CLOSED_RUN:
                    since = day - _ONE_DAY * closed_run
                    raise SlaCalendarInvalid(
                        f"The calendar has no open day in the ten years after {since}:"
                        " check its opening hours, holidays and days off."
                    )
            else:
                closed_run = 0
                if interval[1] > at:
                    yield day, interval[0], interval[1]
            day += _ONE_DAY


@dataclass(frozen=True)
class ClosedDay:
    """A date a calendar is closed although its weekday has opening hours."""

    on: date
    reason: str  # the holiday's name, or "Company day off"


# --- arithmetic --------------------------------------------------------------------------------


def is_open(at: datetime, cal: BusinessCalendar) -> bool:
    """Whether `cal` is open at the instant `at` (closing instants are closed)."""
    at = _utc(at, "at")
    _day, opens, _closes = next(cal._intervals_from(at))
    return opens <= at


def next_open(at: datetime, cal: BusinessCalendar) -> datetime:
    """The first open instant at or after `at`, in UTC: `at` itself when `cal` is open then."""
    at = _utc(at, "at")
    _day, opens, _closes = next(cal._intervals_from(at))
    return max(opens, at)


def add_business_time(start: datetime, duration: timedelta, cal: BusinessCalendar) -> datetime:
    """Deadline = `start` plus `duration` of open time in `cal`; returns aware UTC.

    A start at night, on a weekend, a holiday or a day off counts from the next opening.
    `duration` 0 gives the first open instant at or after `start`; a duration that ends
    exactly as a day's hours run out gives that day's closing time. So the result is always
    open or exactly a closing time. Raises ValueError for a naive `start` or negative duration.
    """
    start = _utc(start, "start")
    if duration < _ZERO:
        raise ValueError(f"add_business_time needs a duration >= 0, got {duration}")
    remaining = duration
    for _day, opens, closes in cal._intervals_from(start):
        begin = max(opens, start)
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
    raise AssertionError("unreachable: _intervals_from never ends")  # pragma: no cover


def business_time_between(start: datetime, end: datetime, cal: BusinessCalendar) -> timedelta:
    """Open time of `cal` in [start, end). Antisymmetric: negative when `end` is before
    `start` (so "time left until due" goes negative once overdue), zero when equal.

    ``business_time_between(s, add_business_time(s, d, cal), cal) == d`` for every d >= 0.
    """
    start, end = _utc(start, "start"), _utc(end, "end")
    if end < start:
        return -business_time_between(end, start, cal)
    total = _ZERO
    for _day, opens, closes in cal._intervals_from(start):
        if opens >= end:
            break
        total += min(closes, end) - max(opens, start)
    return total


def add_business_days(start: datetime, days: int, cal: BusinessCalendar) -> datetime:
    """The same local wall-clock time `days` open days later, in UTC (DESIGN.md "Time": two
    business days after Friday 16:00 in Berlin is Tuesday 16:00, Wednesday 16:00 when Monday
    is a holiday).

    A start outside opening hours first moves to the next opening (Saturday 11:00 plus one
    business day is Tuesday at opening). When the target day's hours do not cover that
    wall-clock time the result is clamped into them: its opening time if earlier, its closing
    time if later. ``days=0`` is `next_open(start)`. Raises ValueError for negative `days`.
    """
    start = _utc(start, "start")
    if days < 0:
        raise ValueError(f"add_business_days needs days >= 0, got {days}")
    intervals = cal._intervals_from(start)
    _day, opens, closes = next(intervals)
    begin = max(opens, start)
    if days == 0:
        return begin
    wall = begin.astimezone(cal.tz).time()
    for _ in range(days):
        day, opens, closes = next(intervals)
    return min(max(_first_instant(day, wall, cal.tz), opens), closes)


def closed_days(first: date, last: date, cal: BusinessCalendar) -> list[ClosedDay]:
    """Dates in [first, last] that `cal` is closed on although their weekday has hours:
    public holidays and company days off, in date order."""
    found: list[ClosedDay] = []
    day = first
    while day <= last:
        if day.weekday() in cal.hours and day in cal._closed_dates(day.year):
            name = holiday_name(day, cal)
            found.append(ClosedDay(on=day, reason=name or "Company day off"))
        day += _ONE_DAY
    return found


def holiday_name(on: date, cal: BusinessCalendar) -> str | None:
    """The public holiday's name on `on` ("Christmas Day"), or None."""
    with _HOLIDAYS_LOCK:
        name = cal.holidays.get(on)
    return None if name is None else str(name)


def next_weekly_time(*, after: datetime, weekday: int, at: time, tz: ZoneInfo) -> datetime:
    """The first instant strictly after `after` that is `weekday` (0 = Monday) at local time
    `at` in `tz`, in UTC ("every Monday 09:00 Berlin").

    Wall-clock time: Monday 09:00 in Berlin stays 09:00 local across DST (07:00 UTC in summer,
    08:00 UTC in winter). Ignores opening hours and holidays. Unlike opening hours, a time that
    does not exist (in a spring-forward gap) is shifted forward by the gap, as zoneinfo's
    ``fold=0`` does (02:30 -> 03:30 CEST in Berlin); a time that happens twice is its first
    occurrence. Raises ValueError for a naive `after`.
    """
    if after.tzinfo is None:
        raise ValueError("next_weekly_time needs an aware datetime")
    local = after.astimezone(tz)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    while True:
        candidate = datetime.combine(day, at, tzinfo=tz)
        # Round-trip through UTC normalises a non-existent local time (spring forward).
        candidate_utc = candidate.astimezone(UTC)
        if candidate_utc > after:
            return candidate_utc
        day += timedelta(days=7)


# --- building calendars from stored settings ---------------------------------------------------


def calendar_from(
    *,
    time_zone: str,
    opening_hours: Mapping[Any, Any],
    country: str,
    subdivision: str = "",
    days_off: Iterable[date] = (),
) -> BusinessCalendar:
    """A calendar from a team's stored settings: an IANA time zone, opening hours as JSON
    (``{"0": ["09:00", "17:30"], ...}``; weekday 0 = Monday; an absent weekday, ``null`` or
    ``[]`` is closed), an ISO 3166-1 alpha-2 country and optional subdivision for the public
    holidays, and company days off.

    Raises `SlaCalendarInvalid` whose message and ``loc`` name the field, e.g.
    "opening_hours.2: closes 08:00 is not after opens 09:00". The ``holidays`` object is shared
    between calendars of the same country and subdivision: treat it as read-only.
    """
    tz = _zone(time_zone)
    code, subdiv = _holiday_region(country, subdivision)
    hours = parse_opening_hours(opening_hours)
    return BusinessCalendar(
        tz=tz, hours=hours, holidays=_country_holidays(code, subdiv), days_off=frozenset(days_off)
    )


def parse_opening_hours(raw: Mapping[Any, Any]) -> dict[int, tuple[time, time]]:
    """Opening hours JSON -> {weekday: (opens, closes)}. Raises `SlaCalendarInvalid`."""
    if not isinstance(raw, Mapping):
        raise SlaCalendarInvalid(
            "opening_hours: expected an object of weekday (0 = Monday) to"
            f' ["HH:MM", "HH:MM"], got {raw!r}',
            loc=("opening_hours",),
        )
    hours: dict[int, tuple[time, time]] = {}
    for key, value in raw.items():
        weekday = _weekday(key)
        where = f"opening_hours.{weekday}"
        if weekday in hours:
            raise SlaCalendarInvalid(
                f"{where}: {WEEKDAYS[weekday]} is given twice", loc=("opening_hours", str(weekday))
            )
        if value is None or (isinstance(value, list | tuple) and len(value) == 0):
            continue
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise SlaCalendarInvalid(
                f'{where}: expected ["HH:MM", "HH:MM"] (opens, closes), got {value!r}',
                loc=("opening_hours", str(weekday)),
            )
        hours[weekday] = (_hhmm(value[0], where, "opens"), _hhmm(value[1], where, "closes"))
    return _checked_hours(hours, field_name="opening_hours")


class CalendarSettings(TypedDict):
    """A calendar as a team stores it: the arguments of `calendar_from` but the days off."""

    time_zone: str
    opening_hours: dict[str, list[str]]
    country: str
    subdivision: str


def calendar_settings(cal: BusinessCalendar) -> CalendarSettings:
    """The canonical stored form of a calendar made by `calendar_from` (zone key, "HH:MM"
    hours keyed "0".."6", upper-case country, the holidays package's subdivision code)."""
    return CalendarSettings(
        time_zone=cal.tz.key,
        opening_hours=opening_hours_json(cal.hours),
        country=str(getattr(cal.holidays, "country", None) or ""),
        subdivision=str(getattr(cal.holidays, "subdiv", None) or ""),
    )


def opening_hours_json(hours: Mapping[int, tuple[time, time]]) -> dict[str, list[str]]:
    """{weekday: (opens, closes)} -> the stored JSON shape, ``{"0": ["09:00", "17:30"]}``."""
    return {
        str(day): [_hhmm_text(opens), _hhmm_text(closes)]
        for day, (opens, closes) in sorted(hours.items())
    }


# --- helpers -----------------------------------------------------------------------------------


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def _reads(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of `instant` in `tz`."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _first_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which the wall clock in `tz` reads `day` `at` or later."""
    # fold=0: an ordinary time, or the first of the two in a fall-back fold...
    first = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
    back = first.astimezone(tz)
    if back.time() == at and back.date() == day:
        return first
    naive = datetime.combine(day, at)
    # ...unless `naive` lies in a spring-forward gap, where fold=0 reads it with the offset
    # before the jump and lands after the gap. The answer is the jump itself: find it by
    # bisection over whole seconds (tzdata transitions fall on whole seconds) between the
    # fold=1 reading, before the jump, and the fold=0 one, after it.
    before = math.floor(naive.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    after = math.ceil(first.timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if _reads(datetime.fromtimestamp(middle, UTC), tz) >= naive:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _checked_hours(
    hours: Mapping[int, tuple[time, time]], *, field_name: str = "hours"
) -> dict[int, tuple[time, time]]:
    checked: dict[int, tuple[time, time]] = {}
    for weekday, interval in sorted(hours.items()):
        where = f"{field_name}.{weekday}"
        loc = (field_name, str(weekday))
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise SlaCalendarInvalid(
                f"{where}: {weekday!r} is not a weekday; use 0 (Monday) to 6 (Sunday)", loc=loc
            )
        opens, closes = interval
        if not all(isinstance(t, time) and t.tzinfo is None for t in (opens, closes)):
            raise SlaCalendarInvalid(
                f"{where}: expected two naive times, got {interval!r}", loc=loc
            )
        if closes <= opens:
            raise SlaCalendarInvalid(
                f"{where}: closes {_hhmm_text(closes)} is not after opens {_hhmm_text(opens)}",
                loc=loc,
            )
        checked[weekday] = (opens, closes)
    if not checked:
        raise SlaCalendarInvalid(
            f"{field_name}: no weekday is open; a calendar needs at least one open weekday",
            loc=(field_name,),
        )
    return checked


def _weekday(key: object) -> int:
    text = str(key).strip()
    if isinstance(key, bool) or not re.fullmatch(r"[0-6]", text):
        raise SlaCalendarInvalid(
            f"opening_hours.{key}: {key!r} is not a weekday; use 0 (Monday) to 6 (Sunday)",
            loc=("opening_hours", str(key)),
        )
    return int(text)


def _hhmm(value: object, where: str, which: str) -> time:
    match = _HHMM.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise SlaCalendarInvalid(
            f"{where}: {which} {value!r} is not a time as HH:MM (00:00 to 23:59)",
            loc=tuple(where.split(".")),
        )
    return time(int(match[1]), int(match[2]))


def _hhmm_text(value: time) -> str:
    return value.isoformat(timespec="minutes" if value.second == value.microsecond == 0 else "auto")


def _zone(name: str) -> ZoneInfo:
    try:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(name)
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        guess = difflib.get_close_matches(str(name), _zone_names(), n=1)
        hint = f" (did you mean {guess[0]}?)" if guess else " (an IANA name such as Europe/Berlin)"
        raise SlaCalendarInvalid(
            f"time_zone: {name!r} is not a known time zone{hint}", loc=("time_zone",)
        ) from None


@functools.cache
def _zone_names() -> list[str]:
    return sorted(available_timezones())


@functools.cache
def _subdivisions() -> dict[str, list[str]]:
    """Country code -> its subdivision codes and aliases (only two-letter country codes)."""
    return {
        code: list(subdivs)
        for code, subdivs in holidays_lib.list_supported_countries(include_aliases=True).items()
        if len(code) == 2
    }


def _holiday_region(country: str, subdivision: str) -> tuple[str, str]:
    """(country, subdivision) as the `holidays` package spells them. Raises
    `SlaCalendarInvalid` for a country without a holiday calendar or an unknown subdivision."""
    code = country.strip().upper() if isinstance(country, str) else ""
    known = _subdivisions()
    if code not in known:
        raise SlaCalendarInvalid(
            f"country: {country!r} has no holiday calendar"
            " (use an ISO 3166-1 alpha-2 code such as DE, US or GB)",
            loc=("country",),
        )
    wanted = subdivision.strip() if isinstance(subdivision, str) else str(subdivision)
    if not wanted:
        return code, ""
    for subdiv in known[code]:
        if subdiv.casefold() == wanted.casefold():
            return code, subdiv
    # Names the package also accepts ("Alsace" for FR 6AE), stored as their code.
    aliases = getattr(getattr(holidays_lib, code, None), "subdivisions_aliases", {})
    for alias, subdiv in aliases.items():
        if alias.casefold() == wanted.casefold():
            return code, subdiv
    listed = ", ".join(known[code]) or "none"
    raise SlaCalendarInvalid(
        f"subdivision: {subdivision!r} is not a subdivision of {code} (known: {listed})",
        loc=("subdivision",),
    )


@functools.lru_cache(maxsize=256)
def _country_holidays(country: str, subdivision: str) -> HolidayBase:
    """One lazily expanding holidays object per region, shared by its calendars."""
    with _HOLIDAYS_LOCK:
        return holidays_lib.country_holidays(country, subdiv=subdivision or None)

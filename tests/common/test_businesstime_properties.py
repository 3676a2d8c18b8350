"""Properties of business-time arithmetic over random calendars, starts and durations.

Calendars draw their zone from a list with DST in both hemispheres, half-hour offsets and
changes at midnight, and random opening hours (nights included, so opening and closing times
land in DST gaps and folds); starts often sit exactly on an opening or closing time, or on a
DST day. An independent oracle that walks the wall clock minute by minute checks the sums.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadloop.common.businesstime import (
    BusinessCalendar,
    add_business_days,
    add_business_time,
    business_time_between,
    calendar_from,
    is_open,
    next_open,
)

ZONES = (
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "UTC",
    "Australia/Lord_Howe",  # DST of half an hour
    "America/Havana",  # clocks change at midnight
)
REGIONS = (("DE", "BY"), ("DE", "BE"), ("US", "NY"), ("AU", "NSW"), ("IN", ""), ("GB", "ENG"))
FIRST, LAST = date(2024, 1, 1), date(2029, 12, 31)
# Bounds of aware starts (hypothesis takes naive bounds and attaches the zone).
NAIVE_FIRST = datetime.combine(FIRST, time(0))
NAIVE_LAST = datetime.combine(date(2029, 12, 1), time(0))
MICROSECOND = timedelta(microseconds=1)
PROPERTY = settings(max_examples=200, deadline=None)


class Case(NamedTuple):
    cal: BusinessCalendar
    hours: dict[str, list[str]]
    country: str
    subdivision: str


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def opening_hours(draw: st.DrawFn, *, earliest: int = 0, step: int = 1) -> dict[str, list[str]]:
    """Random hours, at least one weekday open; times are multiples of `step` minutes."""
    slots = (24 * 60 - 1) // step
    always_open = draw(st.integers(0, 6))
    hours: dict[str, list[str]] = {}
    for weekday in range(7):
        if weekday == always_open or draw(st.booleans()):
            opens = draw(st.integers(earliest // step, slots - 1))
            closes = draw(st.integers(opens + 1, slots))
            hours[str(weekday)] = [_hhmm(opens * step), _hhmm(closes * step)]
    return hours


@st.composite
def calendars(
    draw: st.DrawFn, *, zones: tuple[str, ...] = ZONES, earliest: int = 0, step: int = 1
) -> Case:
    hours = draw(opening_hours(earliest=earliest, step=step))
    country, subdivision = draw(st.sampled_from(REGIONS))
    cal = calendar_from(
        time_zone=draw(st.sampled_from(zones)),
        opening_hours=hours,
        country=country,
        subdivision=subdivision,
        days_off=draw(st.frozensets(st.dates(FIRST, LAST), max_size=30)),
    )
    return Case(cal, hours, country, subdivision)


@functools.cache
def _dst_days(tz: ZoneInfo) -> list[date]:
    """Local dates in [FIRST, LAST] on which the zone's offset changes."""
    days, day = [], FIRST
    while day < LAST:
        offset = datetime.combine(day, time(0), tzinfo=tz).utcoffset()
        if datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).utcoffset() != offset:
            days.extend([day, day + timedelta(days=1)])
        day += timedelta(days=1)
    return days or [FIRST]


@st.composite
def starts(draw: st.DrawFn, cal: BusinessCalendar) -> datetime:
    """An aware instant: anywhere, or a local opening/closing time, often on a DST day."""
    if draw(st.booleans()):
        return draw(st.datetimes(NAIVE_FIRST, NAIVE_LAST, timezones=st.just(UTC)))
    day = draw(st.one_of(st.dates(FIRST, date(2029, 12, 1)), st.sampled_from(_dst_days(cal.tz))))
    hours = cal.hours.get(day.weekday())
    if hours is not None and draw(st.booleans()):
        wall = draw(st.sampled_from(hours))
    else:
        wall = time(*divmod(draw(st.integers(0, 24 * 60 - 1)), 60))
    return datetime.combine(day, wall, tzinfo=cal.tz).replace(fold=draw(st.integers(0, 1)))


def _weekly_open(cal: BusinessCalendar) -> timedelta:
    day = date(2000, 1, 1)
    spans = (datetime.combine(day, c) - datetime.combine(day, o) for o, c in cal.hours.values())
    return sum(spans, timedelta(0))


@st.composite
def durations(draw: st.DrawFn, cal: BusinessCalendar) -> timedelta:
    """Minutes to weeks, but never more than ~10 weeks of this calendar's open time."""
    cap = min(timedelta(weeks=3), _weekly_open(cal) * 10)
    return draw(
        st.one_of(
            st.timedeltas(timedelta(0), min(cap, timedelta(hours=2))),
            st.timedeltas(timedelta(0), cap),
        )
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[BusinessCalendar, datetime, timedelta]:
    case = draw(calendars())
    return case.cal, draw(starts(case.cal)), draw(durations(case.cal))


# --- add_business_time and business_time_between -----------------------------------------------


@PROPERTY
@given(scenarios())
def test_measuring_an_added_duration_gives_it_back(
    scenario: tuple[BusinessCalendar, datetime, timedelta],
) -> None:
    cal, start, duration = scenario

    due = add_business_time(start, duration, cal)

    assert business_time_between(start, due, cal) == duration


@PROPERTY
@given(scenarios())
def test_a_deadline_is_open_or_exactly_a_closing_time(
    scenario: tuple[BusinessCalendar, datetime, timedelta],
) -> None:
    cal, start, duration = scenario

    due = add_business_time(start, duration, cal)

    assert due >= start
    assert due.tzinfo is UTC
    if duration:
        # Open at `due`, or `due` is the instant the open interval just before it ends.
        assert is_open(due - MICROSECOND, cal)
    else:
        assert is_open(due, cal)


@PROPERTY
@given(scenarios(), st.data())
def test_a_longer_duration_never_ends_earlier(
    scenario: tuple[BusinessCalendar, datetime, timedelta], data: st.DataObject
) -> None:
    cal, start, duration = scenario
    other = data.draw(durations(cal))

    shorter, longer = sorted([duration, other])

    assert add_business_time(start, shorter, cal) <= add_business_time(start, longer, cal)


@PROPERTY
@given(scenarios(), st.data())
def test_adding_in_two_steps_equals_adding_the_sum(
    scenario: tuple[BusinessCalendar, datetime, timedelta], data: st.DataObject
) -> None:
    cal, start, first = scenario
    # Positive: adding 0 to a closing time moves it to the next opening (documented).
    second = data.draw(durations(cal).filter(bool))

    stepwise = add_business_time(add_business_time(start, first, cal), second, cal)

    assert stepwise == add_business_time(start, first + second, cal)


@PROPERTY
@given(st.data())
def test_business_time_adds_up_over_consecutive_spans(data: st.DataObject) -> None:
    cal = data.draw(calendars()).cal
    a = data.draw(starts(cal))
    b, c = (a + data.draw(st.timedeltas(-timedelta(weeks=6), timedelta(weeks=6))) for _ in "bc")

    assert business_time_between(a, b, cal) + business_time_between(b, c, cal) == (
        business_time_between(a, c, cal)
    )
    assert business_time_between(b, a, cal) == -business_time_between(a, b, cal)


@PROPERTY
@given(scenarios())
def test_business_time_never_exceeds_elapsed_time(
    scenario: tuple[BusinessCalendar, datetime, timedelta],
) -> None:
    cal, start, duration = scenario
    end = start + duration

    assert timedelta(0) <= business_time_between(start, end, cal) <= end - start


@PROPERTY
@given(scenarios())
def test_the_next_open_moment_is_open_and_nothing_is_open_before_it(
    scenario: tuple[BusinessCalendar, datetime, timedelta],
) -> None:
    cal, start, _duration = scenario

    opens = next_open(start, cal)

    assert opens >= start
    assert is_open(opens, cal)
    assert business_time_between(start, opens, cal) == timedelta(0)
    # In UTC: a start in a DST gap (America/Havana's midnight of 2024-03-10) never compares
    # equal to another zone's instant (PEP 495), though it is one.
    assert is_open(start, cal) == (opens == start.astimezone(UTC))


# --- add_business_days -------------------------------------------------------------------------


@PROPERTY
@given(st.data())
def test_more_business_days_never_end_earlier_and_stay_open_or_at_closing(
    data: st.DataObject,
) -> None:
    cal = data.draw(calendars()).cal
    start = data.draw(starts(cal))
    fewer, more = sorted(data.draw(st.lists(st.integers(0, 15), min_size=2, max_size=2)))

    early, late = (add_business_days(start, n, cal) for n in (fewer, more))

    assert next_open(start, cal) <= early <= late
    assert is_open(late, cal) or is_open(late - MICROSECOND, cal)
    if more > fewer:
        assert late > early


@PROPERTY
@given(st.data())
def test_n_business_days_of_a_uniform_week_are_n_days_of_open_time(data: st.DataObject) -> None:
    # Same hours every open weekday, away from the night hours DST changes touch.
    opens = data.draw(st.integers(4 * 60, 22 * 60))
    closes = data.draw(st.integers(opens + 1, 24 * 60 - 1))
    weekdays = data.draw(st.sets(st.integers(0, 6), min_size=1))
    country, subdivision = data.draw(st.sampled_from(REGIONS))
    cal = calendar_from(
        time_zone=data.draw(st.sampled_from(ZONES)),
        opening_hours={str(day): [_hhmm(opens), _hhmm(closes)] for day in weekdays},
        country=country,
        subdivision=subdivision,
    )
    start = data.draw(starts(cal))
    days = data.draw(st.integers(0, 10))

    due = add_business_days(start, days, cal)

    assert business_time_between(start, due, cal) == days * timedelta(minutes=closes - opens)


# --- an independent oracle ---------------------------------------------------------------------


def _open_by_wall_clock(
    instant: datetime,
    tz: ZoneInfo,
    hours: dict[str, list[str]],
    closed: holidays.HolidayBase,
    days_off: frozenset[date],
) -> bool:
    """Open when the local wall clock reads within the weekday's hours on a working day."""
    local = instant.astimezone(tz)
    interval = hours.get(str(local.weekday()))
    if interval is None or local.date() in closed or local.date() in days_off:
        return False
    return interval[0] <= local.strftime("%H:%M") < interval[1]


def _oracle_between(case: Case, start: datetime, end: datetime, step: timedelta) -> timedelta:
    closed = holidays.country_holidays(case.country, subdiv=case.subdivision or None)
    total, instant = timedelta(0), start
    while instant < end:
        if _open_by_wall_clock(instant, case.cal.tz, case.hours, closed, case.cal.days_off):
            total += step
        instant += step
    return total


@settings(max_examples=60, deadline=None)
@given(
    calendars(earliest=4 * 60),
    st.datetimes(NAIVE_FIRST, NAIVE_LAST, timezones=st.just(UTC)),
    st.integers(1, 6 * 24 * 60),
)
def test_business_time_matches_a_minute_by_minute_wall_clock_count(
    case: Case, start: datetime, minutes: int
) -> None:
    # Hours from 04:00 on: the night hours where DST gaps and folds make "the wall clock reads
    # within the hours" ambiguous are covered by the DST unit tests instead.
    start = start.replace(second=0, microsecond=0)
    end = start + timedelta(minutes=minutes)

    expected = _oracle_between(case, start, end, timedelta(minutes=1))

    assert business_time_between(start, end, case.cal) == expected


@pytest.mark.parametrize("zone", ZONES)
def test_four_years_of_business_time_match_a_half_hourly_wall_clock_count(zone: str) -> None:
    hours = {
        "0": ["08:00", "17:30"],
        "1": ["09:00", "18:00"],
        "2": ["09:00", "18:00"],
        "3": ["09:00", "18:00"],
        "4": ["09:00", "15:00"],
        "5": ["10:00", "12:30"],
    }
    cal = calendar_from(time_zone=zone, opening_hours=hours, country="DE", subdivision="BY")
    case = Case(cal, hours, "DE", "BY")
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)

    expected = _oracle_between(case, start, end, timedelta(minutes=30))

    assert business_time_between(start, end, cal) == expected
    assert add_business_time(start, expected, cal) <= end
    assert business_time_between(start, add_business_time(start, expected, cal), cal) == expected

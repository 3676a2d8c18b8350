"""Business calendars on the nasty days: Friday 17:29, DST in spring and autumn, Christmas,
regional holidays, company days off and leads arriving at night (STYLE.md section 7)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest

from leadloop.common.businesstime import (
    BusinessCalendar,
    ClosedDay,
    SlaCalendarInvalid,
    add_business_days,
    add_business_time,
    business_time_between,
    calendar_from,
    closed_days,
    holiday_name,
    is_open,
    next_open,
    next_weekly_time,
    opening_hours_json,
    parse_opening_hours,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE_WEEK = {str(day): ["09:00", "17:30"] for day in range(5)}


def berlin(*, subdivision: str = "BE", days_off: tuple[date, ...] = ()) -> BusinessCalendar:
    return calendar_from(
        time_zone="Europe/Berlin",
        opening_hours=OFFICE_WEEK,
        country="DE",
        subdivision=subdivision,
        days_off=days_off,
    )


def new_york() -> BusinessCalendar:
    return calendar_from(
        time_zone="America/New_York",
        opening_hours={str(day): ["09:00", "17:00"] for day in range(5)},
        country="US",
        subdivision="NY",
    )


def sundays_only(opens: time, closes: time, tz: ZoneInfo = BERLIN) -> BusinessCalendar:
    return BusinessCalendar(tz=tz, hours={6: (opens, closes)})


def at_berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- add_business_time: ordinary days ----------------------------------------------------------


def test_an_hour_on_a_tuesday_morning_ends_an_hour_later() -> None:
    due = add_business_time(at_berlin(2025, 5, 13, 10, 0), timedelta(hours=1), berlin())

    assert due == utc(2025, 5, 13, 9, 0)


def test_the_deadline_is_returned_in_utc() -> None:
    due = add_business_time(at_berlin(2025, 5, 13, 10, 0), timedelta(hours=1), berlin())

    assert due.tzinfo is UTC


def test_friday_1729_is_open_and_friday_1730_is_closed() -> None:
    cal = berlin()

    assert is_open(at_berlin(2025, 5, 16, 17, 29), cal)
    assert not is_open(at_berlin(2025, 5, 16, 17, 30), cal)


def test_friday_1729_plus_one_minute_is_due_at_friday_closing_time() -> None:
    due = add_business_time(at_berlin(2025, 5, 16, 17, 29), timedelta(minutes=1), berlin())

    assert due == at_berlin(2025, 5, 16, 17, 30)


def test_friday_1729_plus_two_minutes_is_due_on_monday_at_0901() -> None:
    due = add_business_time(at_berlin(2025, 5, 16, 17, 29), timedelta(minutes=2), berlin())

    assert due == at_berlin(2025, 5, 19, 9, 1)


def test_a_lead_arriving_at_0300_local_counts_from_opening() -> None:
    cal = berlin()
    arrived = at_berlin(2025, 5, 14, 3, 0)

    due = add_business_time(arrived, timedelta(hours=4), cal)

    assert due == at_berlin(2025, 5, 14, 13, 0)
    assert business_time_between(arrived, at_berlin(2025, 5, 14, 9, 0), cal) == timedelta(0)


def test_a_lead_arriving_on_saturday_counts_from_monday_opening() -> None:
    due = add_business_time(at_berlin(2025, 5, 17, 11, 0), timedelta(hours=1), berlin())

    assert due == at_berlin(2025, 5, 19, 10, 0)


def test_a_start_given_in_another_zone_is_the_same_instant() -> None:
    cal = berlin()
    start = datetime(2025, 5, 13, 4, 0, tzinfo=NEW_YORK)  # 10:00 in Berlin

    assert add_business_time(start, timedelta(hours=1), cal) == at_berlin(2025, 5, 13, 11, 0)


def test_zero_duration_from_an_open_moment_is_that_moment() -> None:
    start = at_berlin(2025, 5, 13, 10, 17)

    assert add_business_time(start, timedelta(0), berlin()) == start


def test_zero_duration_from_a_closed_moment_is_the_next_opening() -> None:
    due = add_business_time(at_berlin(2025, 5, 16, 17, 30), timedelta(0), berlin())

    assert due == at_berlin(2025, 5, 19, 9, 0)


def test_a_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="start must be an aware datetime"):
        add_business_time(datetime(2025, 5, 13, 10), timedelta(hours=1), berlin())  # noqa: DTZ001


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="duration >= 0"):
        add_business_time(at_berlin(2025, 5, 13, 10), timedelta(hours=-1), berlin())


# --- DST -----------------------------------------------------------------------------------


def test_spring_forward_weekend_in_berlin_loses_no_business_time() -> None:
    cal = berlin()
    start = at_berlin(2025, 3, 28, 16, 0)  # Friday, CET; clocks go forward on Sunday

    due = add_business_time(start, timedelta(hours=4), cal)

    assert due == utc(2025, 3, 31, 9, 30)  # Monday 11:30 CEST
    assert business_time_between(start, due, cal) == timedelta(hours=4)


def test_fall_back_weekend_in_berlin_adds_no_business_time() -> None:
    cal = berlin()
    start = at_berlin(2025, 10, 24, 16, 0)  # Friday, CEST; clocks go back on Sunday

    due = add_business_time(start, timedelta(hours=4), cal)

    assert due == utc(2025, 10, 27, 10, 30)  # Monday 11:30 CET
    assert business_time_between(start, due, cal) == timedelta(hours=4)


def test_spring_forward_weekend_in_new_york() -> None:
    start = datetime(2025, 3, 7, 16, 0, tzinfo=NEW_YORK)  # Friday, EST

    due = add_business_time(start, timedelta(hours=2), new_york())

    assert due == utc(2025, 3, 10, 14, 0)  # Monday 10:00 EDT


def test_fall_back_weekend_in_new_york() -> None:
    start = datetime(2025, 10, 31, 16, 0, tzinfo=NEW_YORK)  # Friday, EDT

    due = add_business_time(start, timedelta(hours=2), new_york())

    assert due == utc(2025, 11, 3, 15, 0)  # Monday 10:00 EST


@pytest.mark.parametrize(
    ("tz", "day", "open_time"),
    [
        (BERLIN, date(2025, 3, 30), timedelta(hours=22, minutes=59)),
        (BERLIN, date(2025, 10, 26), timedelta(hours=24, minutes=59)),
        (NEW_YORK, date(2025, 3, 9), timedelta(hours=22, minutes=59)),
        (NEW_YORK, date(2025, 11, 2), timedelta(hours=24, minutes=59)),
        (BERLIN, date(2025, 4, 6), timedelta(hours=23, minutes=59)),
    ],
)
def test_a_day_open_round_the_clock_counts_the_real_hours_of_dst_days(
    tz: ZoneInfo, day: date, open_time: timedelta
) -> None:
    cal = sundays_only(time(0, 0), time(23, 59), tz)
    midnight = datetime.combine(day, time(0), tzinfo=tz)

    assert business_time_between(midnight, midnight + timedelta(days=2), cal) == open_time


def test_an_opening_time_inside_the_spring_gap_opens_when_the_clocks_jump() -> None:
    cal = sundays_only(time(2, 30), time(5, 0))

    opens = next_open(at_berlin(2025, 3, 29, 12, 0), cal)

    assert opens == utc(2025, 3, 30, 1, 0)  # 03:00 CEST, the instant after 01:59:59 CET
    assert business_time_between(opens, opens + timedelta(hours=5), cal) == timedelta(hours=2)


def test_a_closing_time_inside_the_spring_gap_closes_when_the_clocks_jump() -> None:
    cal = sundays_only(time(1, 0), time(2, 30))
    day = (at_berlin(2025, 3, 30, 0, 0), at_berlin(2025, 3, 31, 0, 0))

    assert business_time_between(*day, cal) == timedelta(hours=1)
    assert add_business_time(day[0], timedelta(hours=1), cal) == utc(2025, 3, 30, 1, 0)


def test_hours_wholly_inside_the_spring_gap_close_that_day() -> None:
    cal = sundays_only(time(2, 15), time(2, 45))

    opens = next_open(at_berlin(2025, 3, 29, 12, 0), cal)

    assert opens == at_berlin(2025, 4, 6, 2, 15)


def test_times_in_the_autumn_fold_mean_their_first_occurrence() -> None:
    cal = sundays_only(time(2, 30), time(4, 0))
    day = (at_berlin(2025, 10, 26, 0, 0), at_berlin(2025, 10, 27, 0, 0))

    assert next_open(day[0], cal) == utc(2025, 10, 26, 0, 30)  # 02:30 CEST
    assert business_time_between(*day, cal) == timedelta(hours=2, minutes=30)


def test_a_closing_time_in_the_autumn_fold_is_its_first_occurrence() -> None:
    cal = sundays_only(time(1, 0), time(2, 30))
    day = (at_berlin(2025, 10, 26, 0, 0), at_berlin(2025, 10, 27, 0, 0))

    assert business_time_between(*day, cal) == timedelta(hours=1, minutes=30)
    assert not is_open(utc(2025, 10, 26, 1, 15), cal)  # 02:15 CET, the second time round


# --- holidays and days off -------------------------------------------------------------------


def test_christmas_eve_is_a_working_day_in_germany_and_christmas_is_not() -> None:
    cal = berlin()

    assert is_open(at_berlin(2025, 12, 24, 10, 0), cal)
    assert not is_open(at_berlin(2025, 12, 25, 10, 0), cal)
    assert holiday_name(date(2025, 12, 25), cal) == "Christmas Day"


def test_a_lead_on_christmas_eve_afternoon_is_due_after_the_holidays() -> None:
    start = at_berlin(2025, 12, 24, 16, 0)  # Wednesday; Thursday and Friday are holidays

    due = add_business_time(start, timedelta(hours=4), berlin())

    assert due == at_berlin(2025, 12, 29, 11, 30)


@pytest.mark.parametrize(("subdivision", "due_day"), [("BY", 7), ("BE", 6)])
def test_epiphany_closes_bavaria_but_not_berlin(subdivision: str, due_day: int) -> None:
    start = at_berlin(2026, 1, 5, 17, 0)  # Monday; Tuesday is Epiphany

    due = add_business_time(start, timedelta(hours=1), berlin(subdivision=subdivision))

    assert due == at_berlin(2026, 1, due_day, 9, 30)


@pytest.mark.parametrize(("subdivision", "open_"), [("BE", False), ("BY", True)])
def test_womens_day_closes_berlin_but_not_bavaria(subdivision: str, open_: bool) -> None:
    assert is_open(at_berlin(2027, 3, 8, 10, 0), berlin(subdivision=subdivision)) is open_


def test_a_company_day_off_is_closed_like_a_holiday() -> None:
    start = at_berlin(2025, 4, 30, 17, 0)  # Wednesday; Thursday is Labour Day
    bridge_day = date(2025, 5, 2)

    with_day_off = add_business_time(start, timedelta(hours=1), berlin(days_off=(bridge_day,)))
    without = add_business_time(start, timedelta(hours=1), berlin())

    assert with_day_off == at_berlin(2025, 5, 5, 9, 30)
    assert without == at_berlin(2025, 5, 2, 9, 30)


def test_closed_days_lists_holidays_and_days_off_on_open_weekdays() -> None:
    cal = berlin(subdivision="BY", days_off=(date(2025, 12, 31),))

    found = closed_days(date(2025, 10, 30), date(2025, 12, 31), cal)

    # All Saints' Day (1 November 2025) is a Saturday: closed anyway, not listed.
    assert found == [
        ClosedDay(on=date(2025, 12, 25), reason="Christmas Day"),
        ClosedDay(on=date(2025, 12, 26), reason="Second Day of Christmas"),
        ClosedDay(on=date(2025, 12, 31), reason="Company day off"),
    ]


def test_a_calendar_without_an_open_day_for_ten_years_is_refused() -> None:
    mondays = tuple(date(2025, 1, 6) + timedelta(weeks=n) for n in range(600))
    cal = BusinessCalendar(tz=BERLIN, hours={0: (time(9), time(17))}, days_off=frozenset(mondays))

    with pytest.raises(SlaCalendarInvalid, match="no open day in the ten years after 2024-12-30"):
        add_business_time(at_berlin(2025, 1, 1, 0, 0), timedelta(hours=1), cal)


def test_holidays_of_far_years_are_loaded_as_needed() -> None:
    cal = berlin(subdivision="BY")

    assert not is_open(at_berlin(2041, 12, 25, 10, 0), cal)
    assert is_open(at_berlin(2041, 12, 27, 10, 0), cal)  # a Friday


def test_one_calendar_answers_many_threads_alike() -> None:
    hours = {day: (time(9), time(17, 30)) for day in range(5)}

    def fresh() -> BusinessCalendar:  # nothing loaded yet: every thread fills years at once
        return BusinessCalendar(
            tz=BERLIN, hours=hours, holidays=holidays.country_holidays("DE", subdiv="BY")
        )

    starts = [utc(year, 12, 23, 15, 0) for year in range(2030, 2070)]
    single = fresh()
    expected = [add_business_time(start, timedelta(hours=40), single) for start in starts]
    shared = fresh()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda s: add_business_time(s, timedelta(hours=40), shared), starts * 4)
        )

    assert results == expected * 4


# --- business_time_between -------------------------------------------------------------------


def test_business_time_over_a_weekend_counts_only_open_hours() -> None:
    between = business_time_between(
        at_berlin(2025, 5, 16, 17, 0), at_berlin(2025, 5, 19, 10, 0), berlin()
    )

    assert between == timedelta(hours=1, minutes=30)


def test_business_time_backwards_is_negative() -> None:
    between = business_time_between(
        at_berlin(2025, 5, 19, 10, 0), at_berlin(2025, 5, 16, 17, 0), berlin()
    )

    assert between == -timedelta(hours=1, minutes=30)


def test_business_time_from_a_moment_to_itself_is_zero() -> None:
    moment = at_berlin(2025, 5, 19, 10, 0)

    assert business_time_between(moment, moment, berlin()) == timedelta(0)


# --- add_business_days -----------------------------------------------------------------------


def test_two_business_days_after_friday_1600_in_berlin_is_tuesday_1600() -> None:
    # DESIGN.md "Time"; this weekend the clocks also go forward.
    due = add_business_days(at_berlin(2025, 3, 28, 16, 0), 2, berlin())

    assert due == at_berlin(2025, 4, 1, 16, 0)
    assert due == utc(2025, 4, 1, 14, 0)


def test_two_business_days_over_a_monday_holiday_is_wednesday() -> None:
    # 9 June 2025 is Whit Monday.
    due = add_business_days(at_berlin(2025, 6, 6, 16, 0), 2, berlin())

    assert due == at_berlin(2025, 6, 11, 16, 0)


def test_business_days_from_a_weekend_count_from_monday_opening() -> None:
    due = add_business_days(at_berlin(2025, 5, 17, 11, 0), 1, berlin())

    assert due == at_berlin(2025, 5, 20, 9, 0)


def test_zero_business_days_is_the_next_open_moment() -> None:
    cal = berlin()

    assert add_business_days(at_berlin(2025, 5, 14, 3, 0), 0, cal) == at_berlin(2025, 5, 14, 9, 0)


def test_a_business_day_landing_after_a_shorter_days_closing_is_clamped_to_it() -> None:
    cal = calendar_from(
        time_zone="Europe/Berlin",
        opening_hours={**OFFICE_WEEK, "4": ["10:00", "15:00"]},
        country="DE",
        subdivision="BE",
    )

    assert add_business_days(at_berlin(2025, 5, 15, 16, 0), 1, cal) == at_berlin(2025, 5, 16, 15, 0)
    assert add_business_days(at_berlin(2025, 5, 15, 9, 30), 1, cal) == at_berlin(2025, 5, 16, 10, 0)


def test_negative_business_days_are_refused() -> None:
    with pytest.raises(ValueError, match="days >= 0"):
        add_business_days(at_berlin(2025, 5, 15, 16, 0), -1, berlin())


# --- building calendars ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message", "loc"),
    [
        (
            {"time_zone": "Europe/Berln"},
            "time_zone: 'Europe/Berln' is not a known time zone (did you mean Europe/Berlin?)",
            ("time_zone",),
        ),
        ({"time_zone": ""}, "time_zone: '' is not a known time zone", ("time_zone",)),
        (
            {"opening_hours": {"2": ["09:00", "08:00"]}},
            "opening_hours.2: closes 08:00 is not after opens 09:00",
            ("opening_hours", "2"),
        ),
        (
            {"opening_hours": {"1": ["9am", "17:00"]}},
            "opening_hours.1: opens '9am' is not a time as HH:MM (00:00 to 23:59)",
            ("opening_hours", "1"),
        ),
        (
            {"opening_hours": {"1": ["09:00", "24:00"]}},
            "opening_hours.1: closes '24:00' is not a time as HH:MM (00:00 to 23:59)",
            ("opening_hours", "1"),
        ),
        (
            {"opening_hours": {"7": ["09:00", "17:00"]}},
            "opening_hours.7: '7' is not a weekday; use 0 (Monday) to 6 (Sunday)",
            ("opening_hours", "7"),
        ),
        (
            {"opening_hours": {"0": ["09:00"]}},
            'opening_hours.0: expected ["HH:MM", "HH:MM"] (opens, closes), got [\'09:00\']',
            ("opening_hours", "0"),
        ),
        (
            {"opening_hours": {"0": ["09:00", "17:00"], 0: ["10:00", "12:00"]}},
            "opening_hours.0: Monday is given twice",
            ("opening_hours", "0"),
        ),
        (
            {"opening_hours": {"0": None, "1": []}},
            "opening_hours: no weekday is open; a calendar needs at least one open weekday",
            ("opening_hours",),
        ),
        (
            {"opening_hours": [["09:00", "17:00"]]},
            "opening_hours: expected an object of weekday (0 = Monday) to",
            ("opening_hours",),
        ),
        ({"country": "XX"}, "country: 'XX' has no holiday calendar", ("country",)),
        ({"country": "DEU"}, "country: 'DEU' has no holiday calendar", ("country",)),
        (
            {"subdivision": "ZZ"},
            "subdivision: 'ZZ' is not a subdivision of DE (known: BB, BE, BW, BY,",
            ("subdivision",),
        ),
    ],
)
def test_an_invalid_calendar_is_refused_naming_the_field(
    overrides: dict[str, Any], message: str, loc: tuple[str, ...]
) -> None:
    settings: dict[str, Any] = {
        "time_zone": "Europe/Berlin",
        "opening_hours": OFFICE_WEEK,
        "country": "DE",
        "subdivision": "BE",
        **overrides,
    }

    with pytest.raises(SlaCalendarInvalid) as info:
        calendar_from(**settings)

    assert info.value.message.startswith(message)
    assert info.value.loc == loc


def test_country_and_subdivision_are_matched_ignoring_case() -> None:
    cal = calendar_from(
        time_zone="Europe/Berlin", opening_hours=OFFICE_WEEK, country="de", subdivision="by"
    )

    assert (cal.holidays.country, cal.holidays.subdiv) == ("DE", "BY")


def test_a_weekday_given_as_null_or_an_empty_list_is_closed() -> None:
    hours = parse_opening_hours({"0": ["09:00", "17:00"], "5": None, "6": []})

    assert hours == {0: (time(9), time(17))}


def test_opening_hours_survive_a_round_trip_through_json() -> None:
    raw = {"0": ["08:00", "12:30"], "2": ["13:15", "23:59"]}

    assert opening_hours_json(parse_opening_hours(raw)) == raw


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": {}}, "hours: no weekday is open"),
        ({"hours": {7: (time(9), time(17))}}, "hours.7: 7 is not a weekday"),
        ({"hours": {1: (time(17), time(9))}}, "hours.1: closes 09:00 is not after opens 17:00"),
        ({"tz": UTC}, "tz: datetime.timezone.utc is not a ZoneInfo time zone"),
        (
            {"days_off": frozenset({datetime(2025, 5, 2, tzinfo=UTC)})},
            "days_off: datetime.datetime(2025, 5, 2, 0, 0, tzinfo=datetime.timezone.utc) is not a date",
        ),
    ],
)
def test_a_calendar_built_directly_is_checked_too(kwargs: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"tz": BERLIN, "hours": {0: (time(9), time(17))}, **kwargs}

    with pytest.raises(SlaCalendarInvalid) as info:
        BusinessCalendar(**fields)

    assert info.value.message.startswith(message)


def test_a_calendars_hours_cannot_be_changed_afterwards() -> None:
    cal = berlin()

    with pytest.raises(TypeError):
        cal.hours[5] = (time(9), time(12))  # type: ignore[index]


# --- next_weekly_time ------------------------------------------------------------------------


def test_next_monday_0900_in_berlin_is_0800_utc_in_winter() -> None:
    at = next_weekly_time(after=utc(2025, 1, 8, 12), weekday=0, at=time(9), tz=BERLIN)

    assert at == utc(2025, 1, 13, 8, 0)


def test_next_monday_0900_in_berlin_keeps_its_wall_clock_time_across_dst() -> None:
    at = next_weekly_time(after=at_berlin(2025, 3, 28, 16), weekday=0, at=time(9), tz=BERLIN)

    assert at == utc(2025, 3, 31, 7, 0)


def test_next_weekly_time_is_strictly_after() -> None:
    monday_nine = at_berlin(2025, 3, 31, 9, 0)

    at = next_weekly_time(after=monday_nine, weekday=0, at=time(9), tz=BERLIN)

    assert at == at_berlin(2025, 4, 7, 9, 0)


def test_next_weekly_time_inside_the_spring_gap_is_shifted_by_the_gap() -> None:
    at = next_weekly_time(after=at_berlin(2025, 3, 29), weekday=6, at=time(2, 30), tz=BERLIN)

    assert at == utc(2025, 3, 30, 1, 30)  # 03:30 CEST


def test_next_weekly_time_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_weekly_time(after=datetime(2025, 3, 29), weekday=0, at=time(9), tz=BERLIN)  # noqa: DTZ001

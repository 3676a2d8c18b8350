"""Business-time arithmetic: a year of business time added on a fresh calendar, against the
bare per-day zoneinfo work the same walk cannot avoid.

    .venv/bin/python benchmarks/businesstime.py [--runs 50]

`value`: milliseconds for ``add_business_time(start, 365 days, cal)`` on a calendar built just
before (Berlin, Mon-Fri 09:00-17:30, DE-BY holidays, holidays already loaded by a warm-up on
another calendar, so the per-day intervals are computed, not cached). A year of open time is
about 1,030 open days, about four calendar years walked day by day.

`floor`: the same number of local dates, each turned into its opening and closing UTC instant
with one ``datetime.combine(..., tzinfo=tz).astimezone(UTC)`` apiece: the conversion every
DST-exact walk needs, without holidays, days off, gap handling or bookkeeping.

Also printed: the cached (warm) time for the same call, and the median cost of the two calls
an SLA clock makes most ("16 business hours", "2 business days") on a fresh calendar.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _harness import machine, report, stopwatch

from leadloop.common.businesstime import (
    BusinessCalendar,
    add_business_days,
    add_business_time,
    calendar_from,
)

GOAL = 3.0  # a year of business time within 3x the bare conversions; see docs/benchmarks.md
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 27, 16, 0, tzinfo=BERLIN)
YEAR = timedelta(days=365)


def _calendar() -> BusinessCalendar:
    return calendar_from(
        time_zone="Europe/Berlin",
        opening_hours={str(day): ["09:00", "17:30"] for day in range(5)},
        country="DE",
        subdivision="BY",
    )


def _floor(days: int) -> None:
    day = START.date()
    opens, closes = time(9, 0), time(17, 30)
    for _ in range(days):
        datetime.combine(day, opens, tzinfo=BERLIN).astimezone(UTC)
        datetime.combine(day, closes, tzinfo=BERLIN).astimezone(UTC)
        day += timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    due = add_business_time(START, YEAR, _calendar())  # loads the holiday years once
    days = (due.astimezone(BERLIN).date() - START.date()).days + 2

    cold, warm, floor, hours16, days2 = [], [], [], [], []
    for _ in range(args.runs):
        cal = _calendar()
        with stopwatch() as t:
            add_business_time(START, YEAR, cal)
        cold.append(t.seconds)
        with stopwatch() as t:
            add_business_time(START, YEAR, cal)
        warm.append(t.seconds)
        with stopwatch() as t:
            _floor(days)
        floor.append(t.seconds)
        fresh = _calendar()
        with stopwatch() as t:
            add_business_time(START, timedelta(hours=16), fresh)
        hours16.append(t.seconds)
        fresh = _calendar()
        with stopwatch() as t:
            add_business_days(START, 2, fresh)
        days2.append(t.seconds)

    ms = 1000.0
    details = {
        "machine": machine(),
        "calendar_days_walked": days,
        "due": due.isoformat(),
        "year_cold_ms": round(statistics.median(cold) * ms, 3),
        "year_warm_ms": round(statistics.median(warm) * ms, 3),
        "floor_ms": round(statistics.median(floor) * ms, 3),
        "16_business_hours_us": round(statistics.median(hours16) * 1e6, 1),
        "2_business_days_us": round(statistics.median(days2) * 1e6, 1),
    }
    print(json.dumps(details, indent=2))
    report(
        benchmark="businesstime",
        value=statistics.median(cold) * ms,
        unit="ms per year of business time",
        floor=statistics.median(floor) * ms,
        better="lower",
        goal=GOAL,
    )


if __name__ == "__main__":
    main()

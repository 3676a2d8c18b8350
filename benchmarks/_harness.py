"""What every benchmark shares: the machine description and the one-line JSON result.

A benchmark measures `value` and, in the same run on the same data, a `floor`: the plain,
hard-to-beat way of doing the same work (a raw ``executemany``, a bare SQL query). It reports
``ratio = value / floor`` against a `goal` for that ratio, so results from different machines
compare: the machine's speed divides out. The last line a benchmark prints is exactly one
JSON object; ``ok`` says whether the ratio meets the goal.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Better = Literal["higher", "lower"]

# As in production: DEBUG off (no query log), so the numbers are the code's own.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "benchmark-only-" + "x" * 40,
    "ALLOWED_HOSTS": "127.0.0.1",
    "LEADLOOP_SSL_REDIRECT": "false",
    "LEADLOOP_LOG_LEVEL": "WARNING",
}


def database_fresh(*, production: bool = True) -> tuple[Any, str | None]:
    """Set Django up on a fresh, migrated database: a new SQLite file, or a new test database
    on the PostgreSQL server of DATABASE_URL. Returns (connection, the PostgreSQL name to
    restore with ``connection.creation.destroy_test_db``, else None). With `production`, the
    settings of a production process (PRODUCTION_ENV)."""
    import tempfile

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        os.environ["DATABASE_URL"] = ""
        os.environ["LEADLOOP_DATA_DIR"] = tempfile.mkdtemp(prefix="leadloop-bench-")
    if production:
        os.environ.update(PRODUCTION_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        old = connection.settings_dict["NAME"]
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        return connection, old
    call_command("migrate", verbosity=0)
    return connection, None


@dataclass
class Stopwatch:
    seconds: float = 0.0
    _started: float = field(default=0.0, repr=False)


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    """``with stopwatch() as t: ...`` then ``t.seconds``: wall time, perf_counter."""
    watch = Stopwatch(_started=time.perf_counter())
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - watch._started


def machine() -> dict[str, str | int]:
    """CPU model, cores, RAM, Python and SQLite versions, and today's date (UTC)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    ram_gib = 0
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            kib = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
            ram_gib = round(kib / 2**20)
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 0,
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "date": datetime.now(UTC).date().isoformat(),
    }


def report(
    *,
    benchmark: str,
    value: float,
    unit: str,
    floor: float,
    better: Better,
    goal: float,
) -> dict[str, object]:
    """Print the final JSON line and return it. `goal` is the target for ``value / floor``:
    a minimum when higher is better, a maximum when lower is better."""
    ratio = value / floor if floor else float("inf")
    ok = ratio >= goal if better == "higher" else ratio <= goal
    line: dict[str, object] = {
        "benchmark": benchmark,
        "value": round(value, 3),
        "unit": unit,
        "floor": round(floor, 3),
        "ratio": round(ratio, 4),
        "better": better,
        "goal": goal,
        "ok": ok,
    }
    print(json.dumps(line), flush=True)
    return line

"""Demo generation rate (leads/s) against a raw ``executemany`` of the same rows (the floor).

    .venv/bin/python benchmarks/demo_generate.py [--leads 20000] [--seed 1]

Runs on a fresh temporary SQLite database, or, when DATABASE_URL names PostgreSQL, on a fresh
test database beside it (created and dropped here). It generates the demo (timed), reads back
the rows it wrote to the four big tables, deletes them, and inserts the very same rows again
with one ``executemany`` per table in one transaction (timed): the floor, the speed of the
database and driver alone. Prints the machine, the details, then the harness's JSON line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import database_fresh, machine, report, stopwatch

# In insertion order (parents first); deleted in reverse.
TABLES = ("leads_company", "leads_lead", "lifecycle_stagechange", "capture_touch")
GOAL = 0.1  # generating is Python work per row; see docs/benchmarks.md


def _floor(connection: Any) -> tuple[float, int]:
    """Seconds to insert the demo's rows again with raw executemany; and how many rows."""
    dumped: list[tuple[str, list[str], list[tuple[object, ...]]]] = []
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT * FROM {table}")
            columns = [c[0] for c in cursor.description]
            dumped.append((table, columns, cursor.fetchall()))
        for table in reversed(TABLES):
            cursor.execute(f"DELETE FROM {table}")
    from django.db import transaction

    mark = "?" if connection.vendor == "sqlite" else "%s"
    with stopwatch() as watch, transaction.atomic():
        cur = connection.connection.cursor()  # the driver's own cursor, below Django
        for table, columns, rows in dumped:
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join([mark] * len(columns))
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    return watch.seconds, sum(len(rows) for _t, _c, rows in dumped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    connection, old_name = database_fresh(production=False)
    from leadloop.demo.generator import demo_generate

    try:
        with stopwatch() as watch:
            result = demo_generate(leads=args.leads, seed=args.seed)
        floor_seconds, rows = _floor(connection)
    finally:
        if old_name is not None:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    print(f"machine: {machine()} database: {connection.vendor}")
    print(
        f"demo: {result.leads} leads, {result.companies} companies, {result.touches} touches, "
        f"{result.changes} stage changes ({rows} rows) in {watch.seconds:.2f} s; "
        f"raw executemany of the same rows: {floor_seconds:.2f} s"
    )
    report(
        benchmark=f"demo_generate[{connection.vendor}]",
        value=args.leads / watch.seconds,
        unit="leads/s",
        floor=args.leads / floor_seconds,
        better="higher",
        goal=GOAL,
    )


if __name__ == "__main__":
    main()

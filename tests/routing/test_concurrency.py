"""Two real worker processes route the same burst of 500 MQLs at once, on PostgreSQL: every
qualification gets exactly one Assignment, no lead is assigned twice, and no rep passes a cap.

The workers run ``tests/routing/race_worker.py`` against a PostgreSQL database: in the
PostgreSQL pass the test database itself (so this test is transactional: the workers' commits
are flushed afterwards), in the SQLite pass a database of its own beside
LEADLOOP_TEST_POSTGRES_URL, created, migrated and dropped here. The checks read the database
with plain SQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from django.db import connection

from tests.conftest import unavailable
from tests.routing import race_worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKER = Path(race_worker.__file__)
_SCHEMES = ("postgres://", "postgresql://", "pgsql://")


def _run(url: str, *args: str, tmp: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": url, "LEADLOOP_DATA_DIR": str(tmp / "var")}
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], what: str) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, f"{what} failed:\n{err}"
    return out


@contextmanager
def _race_database(tmp: Path) -> Iterator[str]:
    """The URL of a migrated, empty PostgreSQL database the workers may write to."""
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        auth = f"{quote(s['USER'])}:{quote(s['PASSWORD'])}@" if s["USER"] else ""
        yield f"postgres://{auth}{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        return
    base = os.environ.get("LEADLOOP_TEST_POSTGRES_URL", "")
    if not base.startswith(_SCHEMES):
        unavailable(
            "PostgreSQL not configured: set LEADLOOP_TEST_POSTGRES_URL=postgres://USER:PASSWORD@HOST:PORT/NAME"
        )
    parts = urlsplit(base)
    name = f"test_{parts.path.lstrip('/') or 'leadloop'}_routing_race_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        migrate = subprocess.run(
            [str(Path(sys.executable).parent / "leadloop"), "migrate", "-v0"],
            env={**os.environ, "DATABASE_URL": url, "LEADLOOP_DATA_DIR": str(tmp / "var")},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_workers_routing_the_same_burst_assign_each_lead_once_within_the_caps(tmp_path):
    with _race_database(tmp_path) as url:
        _finish(_run(url, "seed", tmp=tmp_path), "seed")
        go = tmp_path / "go"
        ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
        workers = [
            _run(url, "route", "ascending", str(ready[0]), str(go), "1", tmp=tmp_path),
            _run(url, "route", "shuffled", str(ready[1]), str(go), "2", tmp=tmp_path),
        ]
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        walked = [_finish(w, f"worker {i}") for i, w in enumerate(workers)]

        with psycopg.connect(url) as db:
            rows = _facts(db)

    assert [int(w) for w in walked] == [race_worker.BURST] * 2
    # Both processes routed part of the burst (each tags the times of what it wrote).
    assert set(rows["by_worker"]) == {1, 2}
    assert rows["qualifications"] == race_worker.BURST
    assert rows["routed_qualifications"] == race_worker.BURST
    assert rows["assignments"] == race_worker.BURST  # none twice
    assert rows["leads_assigned_twice"] == 0
    assert rows["owner_differs_from_assignment"] == 0
    assert rows["max_day"] <= race_worker.CAP_PER_DAY
    assert rows["max_week"] <= race_worker.CAP_PER_WEEK
    # The caps were really reached, so the race was about them: by day, by week, and
    # whatever no rep could take went to the fallback queue.
    assert rows["reps_at_day_cap"] >= 1
    assert rows["reps_at_week_cap"] == len(race_worker.WEEK_ALREADY)
    assert rows["fallbacks"] >= 1
    # Every slot taken belongs to a lead routed to that rep: none leaked from a lost race.
    assert rows["load_mismatches"] == []


def test_two_workers_qualifying_the_same_burst_route_each_mql_once_within_the_caps(tmp_path):
    """The instant hand-off routes inside the qualification's transaction: two processes
    qualifying the same 500 leads (each lead qualified by one of them) route each MQL once,
    without a deadlock, within the caps. A routing that met contended counters is left to
    the task (after commit); the last pass routes those as the task worker would."""
    with _race_database(tmp_path) as url:
        _finish(_run(url, "seed", "unqualified", tmp=tmp_path), "seed")
        go = tmp_path / "go"
        ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
        workers = [
            _run(url, "qualify", "ascending", str(ready[0]), str(go), "1", tmp=tmp_path),
            _run(url, "qualify", "shuffled", str(ready[1]), str(go), "2", tmp=tmp_path),
        ]
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        walked = [_finish(w, f"worker {i}").split() for i, w in enumerate(workers)]
        (tmp_path / "go-tasks").touch()
        _finish(
            _run(
                url,
                "route",
                "ascending",
                str(tmp_path / "r"),
                str(tmp_path / "go-tasks"),
                "3",
                tmp=tmp_path,
            ),
            "deferred routings",
        )

        with psycopg.connect(url) as db:
            rows = _facts(db)

    assert [int(w[0]) for w in walked] == [race_worker.BURST] * 2
    assert sum(int(w[1]) for w in walked) == race_worker.BURST  # each lead qualified once
    assert {1, 2} <= set(rows["by_worker"])
    assert rows["qualifications"] == race_worker.BURST
    assert rows["routed_qualifications"] == race_worker.BURST
    assert rows["assignments"] == race_worker.BURST
    assert rows["leads_assigned_twice"] == 0
    assert rows["owner_differs_from_assignment"] == 0
    assert rows["max_day"] <= race_worker.CAP_PER_DAY
    assert rows["max_week"] <= race_worker.CAP_PER_WEEK
    assert rows["reps_at_week_cap"] == len(race_worker.WEEK_ALREADY)
    assert rows["fallbacks"] >= 1
    assert rows["load_mismatches"] == []


def _facts(db: psycopg.Connection) -> dict[str, object]:
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    return {
        "qualifications": one("SELECT count(*) FROM lifecycle_stagechange WHERE to_stage = 'mql'"),
        "routed_qualifications": one(
            "SELECT count(DISTINCT stage_change_id) FROM routing_assignment "
            "WHERE stage_change_id IS NOT NULL"
        ),
        "assignments": one("SELECT count(*) FROM routing_assignment"),
        "leads_assigned_twice": one(
            "SELECT count(*) FROM (SELECT lead_id FROM routing_assignment GROUP BY lead_id "
            "HAVING count(*) > 1) AS twice"
        ),
        "owner_differs_from_assignment": one(
            "SELECT count(*) FROM routing_assignment a JOIN leads_lead l ON l.id = a.lead_id "
            "WHERE l.owner_id IS DISTINCT FROM a.assignee_id "
            "OR l.queue_id IS DISTINCT FROM a.queue_id"
        ),
        "max_day": one("SELECT max(count) FROM routing_repload WHERE period = 'day'"),
        "max_week": one("SELECT max(count) FROM routing_repload WHERE period = 'week'"),
        "reps_at_day_cap": one(
            f"SELECT count(*) FROM routing_repload WHERE period = 'day' "
            f"AND count = {race_worker.CAP_PER_DAY}"
        ),
        "reps_at_week_cap": one(
            f"SELECT count(*) FROM routing_repload WHERE period = 'week' "
            f"AND count = {race_worker.CAP_PER_WEEK}"
        ),
        "fallbacks": one("SELECT count(*) FROM routing_assignment WHERE kind = 'fallback'"),
        "by_worker": dict(
            db.execute(
                "SELECT (extract(microseconds FROM at)::int % 1000000) AS tag, count(*) "
                "FROM routing_assignment GROUP BY tag"
            ).fetchall()
        ),
        "load_mismatches": db.execute(
            """
            SELECT u.username, d.day, w.week, coalesce(a.routed, 0)
            FROM accounts_user u
            LEFT JOIN (SELECT user_id, sum(count) AS day FROM routing_repload
                       WHERE period = 'day' GROUP BY user_id) d ON d.user_id = u.id
            LEFT JOIN (SELECT user_id, sum(count) AS week FROM routing_repload
                       WHERE period = 'week' GROUP BY user_id) w ON w.user_id = u.id
            LEFT JOIN (SELECT assignee_id, count(*) AS routed FROM routing_assignment
                       WHERE kind = 'routed' GROUP BY assignee_id) a ON a.assignee_id = u.id
            WHERE coalesce(d.day, 0) <> coalesce(a.routed, 0)
               OR coalesce(w.week, 0) <> coalesce(a.routed, 0) + CASE u.username
                    WHEN 'ana' THEN 45 WHEN 'dan' THEN 50 ELSE 0 END
            """
        ).fetchall(),
    }

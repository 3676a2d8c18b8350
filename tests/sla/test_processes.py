"""Real processes: two sweeps at once, and a sweep killed with SIGKILL mid-way then run again,
send each message exactly once and lose no clock.

The processes run ``tests/sla/sweep_worker.py`` and ``leadloop sla_sweep`` against a database
of their own, copied for each test from a migrated template: an SQLite file (in the SQLite
pass) and a PostgreSQL database beside LEADLOOP_TEST_POSTGRES_URL (in both passes). E-mail
goes to a real SMTP server (aiosmtpd) in this process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.conftest import unavailable
from tests.sla import sweep_worker
from tests.sla.conftest import Inbox

WORKER = Path(sweep_worker.__file__)
_PG = ("postgres://", "postgresql://", "pgsql://")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # PostgreSQL in both passes; SQLite in the SQLite pass.
    if "database" in metafunc.fixturenames:
        vendors = ["postgresql"]
        if not os.environ.get("DATABASE_URL", "").startswith(_PG):
            vendors.insert(0, "sqlite")
        metafunc.parametrize("template", vendors, indirect=True, scope="module")


def _env(url: str, tmp: Path, smtp: Inbox | None = None) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "LEADLOOP_DATA_DIR": str(tmp / "var")}
    if smtp is not None:
        env.update(LEADLOOP_EMAIL="smtp", EMAIL_HOST=smtp.host, EMAIL_PORT=str(smtp.port))
    return env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stderr}"
    return done


def _postgres_base() -> str:
    for name in ("LEADLOOP_TEST_POSTGRES_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(_PG):
            return url
    unavailable(
        "PostgreSQL not configured: set LEADLOOP_TEST_POSTGRES_URL=postgres://USER:PASSWORD@HOST:PORT/NAME"
    )
    raise AssertionError("unreachable")


def _pg_admin(base: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path="/postgres"))


def _pg_url(base: str, name: str) -> str:
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(vendor, location) of a migrated, empty database to copy for each test."""
    tmp = tmp_path_factory.mktemp("sla-template")
    if request.param == "sqlite":
        path = tmp / "template.sqlite3"
        _run(_env(f"sqlite:///{path}", tmp), "-m", "leadloop.manage", "migrate", "-v0")
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        yield "sqlite", str(path)
        return
    base = _postgres_base()
    name = f"test_{urlsplit(base).path.lstrip('/') or 'leadloop'}_sla_template"
    with psycopg.connect(_pg_admin(base), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        _run(_env(_pg_url(base, name), tmp), "-m", "leadloop.manage", "migrate", "-v0")
        yield "postgresql", name
    finally:
        with psycopg.connect(_pg_admin(base), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(template: tuple[str, str], tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh copy of the template."""
    vendor, where = template
    if vendor == "sqlite":
        copy = tmp_path / "leadloop.sqlite3"
        shutil.copyfile(where, copy)
        yield f"sqlite:///{copy}"
        return
    base = _postgres_base()
    name = f"{where[: -len('template')]}{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_pg_admin(base), autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{where}"')
    try:
        yield _pg_url(base, name)
    finally:
        with psycopg.connect(_pg_admin(base), autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _report(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(_run(env, str(WORKER), "report").stdout)


def _delivered_once(smtp: Inbox, expected: int) -> None:
    ids = [m.message_id for m in smtp.mails]
    assert len(ids) == expected
    assert len(set(ids)) == expected, "a message was e-mailed twice"


def test_two_sweeps_at_once_send_each_message_exactly_once(database, tmp_path, smtp):
    env = _env(database, tmp_path, smtp)
    _run(env, str(WORKER), "seed", "40", "10")
    go = tmp_path / "go"
    ready = [tmp_path / "ready-a", tmp_path / "ready-b"]
    options = ("--batch", "3", "--throttle", "0.05")
    sweeps = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "sweep", str(r), str(go), *options],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in ready
    ]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = []
    for process in sweeps:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        outputs.append(out)

    report = _report(env)
    assert report["clocks"] == 50
    assert (report["reminded"], report["reminders"]) == (40, 40)
    assert (report["breach_handled"], report["breaches"]) == (10, 10)  # one manager
    assert report["most_per_clock_and_purpose"] == 1
    assert (report["unsent"], report["reminded_without_message"]) == (0, 0)
    assert report["notifications"] == 50
    _delivered_once(smtp, 50)
    sent = [int(out.split("e-mails sent ")[1].split(",")[0]) for out in outputs]
    assert sum(sent) == 50
    if database.startswith("postgres"):
        # PostgreSQL runs both sweeps at once, so both must have done part of the work. SQLite
        # lets one writer in at a time: on a loaded machine one sweep may finish before the
        # other gets the lock, and exactly-once (asserted above) is what must hold there.
        assert all(sent), f"one sweep did all the work, so they did not overlap: {outputs}"


def test_a_sweep_killed_mid_way_and_run_again_reminds_each_clock_once(database, tmp_path, smtp):
    env = _env(database, tmp_path, smtp)
    _run(env, str(WORKER), "seed", "24", "6")
    command = [sys.executable, "-m", "leadloop.manage", "sla_sweep", "--now", sweep_worker.NOW]
    killed = subprocess.Popen(
        [*command, "--throttle", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    got = smtp.wait_for(4, timeout=120)
    time.sleep(0.3)  # mid-way through the wait after the 4th e-mail, its sent_at committed
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    if got < 4 or smtp.count() >= 30:
        pytest.fail(f"the sweep was not killed mid-way ({smtp.count()} of 30 e-mails sent)")
    before = _report(env)
    got_before_restart = smtp.count()

    _run(env, "-m", "leadloop.manage", "sla_sweep", "--now", sweep_worker.NOW)

    after = _report(env)
    # Killed while waiting after an e-mail: every message is written, some still unsent.
    assert (before["reminders"], before["breaches"]) == (24, 6)
    assert before["unsent"] == 30 - got_before_restart
    assert 0 < before["unsent"] < 30
    assert (after["clocks"], after["reminded"], after["reminders"]) == (30, 24, 24)
    assert (after["breach_handled"], after["breaches"]) == (6, 6)
    assert after["most_per_clock_and_purpose"] == 1
    assert (after["unsent"], after["reminded_without_message"]) == (0, 0)
    _delivered_once(smtp, 30)

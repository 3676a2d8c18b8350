"""Touch ingestion through the API (touches/s) against a raw ``executemany`` of the same rows.

    .venv/bin/python benchmarks/ingest_touches.py [--batches 20] [--leads 2000] [--seed 1]

Starts a real server (`leadloop serve`: granian, one process of one thread, DEBUG off) on a
free port of 127.0.0.1 over a fresh temporary SQLite database (or, when DATABASE_URL names
PostgreSQL, a fresh test database beside it, created and dropped here), migrated first, and posts `--batches` batches of 1,000
touches each, spread over `--leads` leads (new ones are created on the way), to
``POST /api/v1/touches/batch`` with a bearer token: timed, end to end. Then it stops the server,
reads back the touches it wrote, deletes them, and inserts the very same rows again with one
``executemany`` into ``capture_touch`` (same table, same indexes) in one transaction: the floor.
Prints the machine, the details, then the harness's JSON line (BENCH_VERBOSE=1: each batch's
time as well).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import machine, report, stopwatch

BATCH = 1000
GOAL = 0.15  # see docs/benchmarks.md, "ingest_touches"
ROOT = Path(__file__).resolve().parent.parent
_SOURCES = (
    ("google", "cpc"),
    ("linkedin", "paid_social"),
    ("newsletter", "email"),
    ("partner-x", "referral"),
    ("", ""),
)


def _setup_database() -> tuple[Any, str | None, dict[str, str]]:
    """A fresh, migrated database; returns (connection, old PostgreSQL name, server env)."""
    url = os.environ.get("DATABASE_URL", "")
    env = {
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "LEADLOOP_SSL_REDIRECT": "false",
        "LEADLOOP_LOG_LEVEL": "WARNING",
    }
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        os.environ["DATABASE_URL"] = ""
        os.environ["LEADLOOP_DATA_DIR"] = tempfile.mkdtemp(prefix="leadloop-bench-")
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    env["LEADLOOP_DATA_DIR"] = os.environ.get("LEADLOOP_DATA_DIR", "")
    if connection.vendor == "postgresql":
        old = connection.settings_dict["NAME"]
        test_name = connection.creation.create_test_db(
            verbosity=0, autoclobber=True, serialize=False
        )
        parts = urlsplit(url)
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{test_name}"))
        return connection, old, env
    call_command("migrate", verbosity=0)
    return connection, None, env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    leadloop = str(Path(sys.executable).parent / "leadloop")
    command = [leadloop, "serve", f"--port={port}", "--workers=1", "--threads=1"]
    server = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    server.terminate()
    raise RuntimeError(f"the server did not listen on 127.0.0.1:{port}: {command}")


def _batches(*, batches: int, leads: int, seed: int) -> list[bytes]:
    """JSON bodies of `batches` batches of BATCH touches, made before the clock starts."""
    rng = random.Random(seed)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=90)
    bodies = []
    for b in range(batches):
        items = []
        for i in range(BATCH):
            person = rng.randrange(leads)
            source, medium = rng.choice(_SOURCES)
            query = f"?utm_source={source}&utm_medium={medium}&utm_campaign=c{person % 12}"
            items.append(
                {
                    "email": f"person{person}@company{person % 400}.example",
                    "kind": rng.choice(("page_visit", "email_click", "ad_click", "form_fill")),
                    "occurred_at": (start + dt.timedelta(seconds=rng.randrange(7_000_000)))
                    .isoformat()
                    .replace("+00:00", "Z"),
                    "landing_page": f"https://www.example.com/p/{i % 50}"
                    + (query if source else ""),
                    "referrer": "https://www.google.com/" if not source else "",
                    "external_id": f"bench-{b}-{i}",
                }
            )
        bodies.append(json.dumps({"items": items}).encode())
    return bodies


def _post_all(port: int, key: str, bodies: list[bytes], times: list[float] | None = None) -> int:
    """POST every batch; returns how many touches the server reports as created. Each batch's
    seconds are appended to `times` when given."""
    created = 0
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for body in bodies:
        _t = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        conn.request("POST", "/api/v1/touches/batch", body=body, headers=headers)
        response = conn.getresponse()
        answer = response.read()
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {answer[:500]!r}")
        result = json.loads(answer)
        if result["error"] and len(bodies) > 1:
            raise RuntimeError(f"errors in a batch: {result['items'][:3]}")
        created += result["created"]
        if times is not None:
            times.append(time.perf_counter() - _t)
        if os.environ.get("BENCH_VERBOSE"):
            print(f"batch {time.perf_counter() - _t:.3f} s", flush=True)
    return created


def _floor(connection: Any, *, repeats: int = 3) -> tuple[float, int]:
    """Seconds to insert the written touches again with raw executemany (the median of
    `repeats` times, the table emptied before each); and how many rows. On SQLite one such
    insert took anywhere from 0.4 to 0.75 s on the same machine minutes apart (whether and
    when the WAL is checkpointed), so one measurement alone made the ratio swing by 2x."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM capture_touch")
        columns = [c[0] for c in cursor.description]
        rows = cursor.fetchall()
    from django.db import transaction

    mark = "?" if connection.vendor == "sqlite" else "%s"
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join([mark] * len(columns))
    seconds = []
    for _ in range(repeats):
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM capture_touch")
        with stopwatch() as watch, transaction.atomic():
            cur = connection.connection.cursor()  # the driver's own cursor, below Django
            cur.executemany(f"INSERT INTO capture_touch ({names}) VALUES ({marks})", rows)
        seconds.append(watch.seconds)
    if os.environ.get("BENCH_VERBOSE"):
        print("floor runs:", ", ".join(f"{s:.3f} s" for s in seconds))
    return sorted(seconds)[len(seconds) // 2], len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    bodies = _batches(batches=args.batches, leads=args.leads, seed=args.seed)
    connection, old_name, env = _setup_database()
    from leadloop.accounts.models import User
    from leadloop.accounts.services import token_create

    user = User.objects.create_user(username="bench", password=None)
    key = token_create(user=user, name="bench", scopes=["touches:write"]).key
    connection.close()  # the server writes now; this process only reads back at the end
    port = _free_port()
    server = _server_start(env, port)
    try:
        # A running server has loaded its code; a batch whose one item is refused warms this
        # one up (imports, URL resolution, schemas) and writes nothing.
        _post_all(port, key, [json.dumps({"items": [{"kind": "page_visit"}]}).encode()])
        times: list[float] = []
        with stopwatch() as watch:
            created = _post_all(port, key, bodies, times)
    finally:
        server.terminate()
        server.wait(timeout=30)
    try:
        from leadloop.leads.models import Lead

        leads = Lead.objects.count()
        floor_seconds, rows = _floor(connection)
    finally:
        if old_name is not None:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    print(f"machine: {machine()} database: {connection.vendor} server: {Path(server.args[0]).name}")
    print(
        f"ingest: {args.batches} batches of {BATCH} touches ({created} created, {leads} leads) "
        f"through POST /api/v1/touches/batch in {watch.seconds:.2f} s; "
        f"raw executemany of the same {rows} rows: {floor_seconds:.3f} s (median of 3)"
    )
    # The first batches create the leads (lifecycle entries, companies); the later ones only
    # add touches to known leads: their costs differ several times over.
    first, rest = times[:3], sorted(times[3:])
    if rest:
        print(
            f"batches: first three {' + '.join(f'{t * 1000:.0f}' for t in first)} ms, "
            f"later ones median {rest[len(rest) // 2] * 1000:.0f} ms "
            f"({rest[0] * 1000:.0f}-{rest[-1] * 1000:.0f})"
        )
    report(
        benchmark=f"ingest_touches[{connection.vendor}]",
        value=created / watch.seconds,
        unit="touches/s",
        floor=rows / floor_seconds,
        better="higher",
        goal=GOAL,
    )


if __name__ == "__main__":
    main()

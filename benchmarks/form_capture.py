"""Public form submissions per second under load, against a bare one-INSERT view (the floor).

    .venv/bin/python benchmarks/form_capture.py [--connections 200] [--seconds 15] [--rounds 3]
                    [--workers N] [--threads N] [--task-workers 1] [--task-nice 10]

Starts `leadloop serve` (granian, its processes and threads sized for the database unless
--workers/--threads say otherwise) on 127.0.0.1 with a fresh SQLite database (WAL) in a
temporary LEADLOOP_DATA_DIR, or a fresh database beside DATABASE_URL's PostgreSQL (created and
dropped here), and `leadloop worker` (the database task backend, at its default nice 10)
beside it, as deployed. `wrk` (apt-get install wrk) then posts JSON submissions, each with a new e-mail and
the page URL's UTM, to ``/f/bench`` (the endpoint checks and stores the submission; the worker
captures lead, company, stage entry and touch meanwhile, on the same cores) and, in the same
run and server, to the floor: a bare Django view that reads the same body and does one INSERT
(benchmarks/form_capture_urls.py). The rate limit is off (LEADLOOP_FORM_RATE_LIMIT=off). Floor
and form take turns, `--rounds` times (the order alternating), so both see the same share of
a shared machine's load; after each form round the next waits until the worker has captured
every submission (the drain), and before each round until the server's queue is empty. Each
figure is the median of its rounds (min-max beside it). Prints requests/s, p99 latency and
errors of both, the end-to-end capture rate (submissions ÷ (load + drain) seconds), then the
harness's JSON line; goal: ratio ≥ 0.5 with p99 ≤ 250 ms and no errors.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import machine, report  # noqa: E402

GOAL = 0.5
P99_MAX_MS = 250.0
VENV_BIN = Path(sys.executable).parent

LUA = r"""
local counter = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"fields":{"email":"p%d-%d@bench%d.example","first_name":"Ada","company":"Bench %d"},' ..
    '"page_url":"https://www.acme.test/pricing?utm_source=linkedin&utm_medium=paid_social&utm_campaign=x",' ..
    '"referrer":"https://www.linkedin.com/"}',
    tid, counter, counter % 500, counter % 500)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Accept"] = "application/json"}, body)
end
"""


@dataclass
class Load:
    rps: float
    p99_ms: float
    requests: int
    errors: int
    seconds: float = 0.0  # the load's
    drain_s: float = 0.0  # after the load, until every submission was captured (form only)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(env: dict[str, str]) -> str | None:
    """Migrate a fresh database, create the form and the floor's table; PostgreSQL: its name."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    pg_name = None
    if connection.vendor == "postgresql":
        pg_name = f"leadloop_bench_{secrets.token_hex(4)}"
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{pg_name}"')
        connection.close()
        connection.settings_dict["NAME"] = pg_name
    for alias in connections:  # the main database, and on SQLite the queue file
        call_command("migrate", database=alias, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG is off, as deployed
    from form_capture_urls import FLOOR_TABLE

    from leadloop.capture.models import Form

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {FLOOR_TABLE} (id {'bigserial' if pg_name else 'integer'} "
            "PRIMARY KEY, email varchar(254) NOT NULL, created_at varchar(40) NOT NULL)"
        )
    Form.objects.create(
        name="Benchmark",
        slug="bench",
        fields=[
            {"name": "email", "label": "E-mail", "type": "email", "required": True,
             "maps_to": "email", "choices": []},
            {"name": "first_name", "label": "First name", "type": "text", "required": True,
             "maps_to": "first_name", "choices": []},
            {"name": "company", "label": "Company", "type": "text", "required": False,
             "maps_to": "company_name", "choices": []},
        ],
    )  # fmt: skip
    connection.close()
    return pg_name


def _wrk(url: str, *, connections: int, seconds: int, script: Path) -> Load:
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency",
         "--timeout", "10s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    p99_raw = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p99 = float(p99_raw[1]) * scale[p99_raw[2]]  # type: ignore[index]
    total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    seconds = float(re.search(r"requests in ([\d.]+)s", out)[1])  # type: ignore[index]
    return Load(rps=rps, p99_ms=p99, requests=total, errors=errors, seconds=seconds)


def _waiting() -> int:
    """Submissions stored and not yet captured (pending or failed)."""
    from leadloop.capture.models import FormSubmission

    return FormSubmission.objects.count()


def _drain(timeout: float = 900.0) -> float:
    """Seconds until the worker has captured every stored submission."""
    started = time.perf_counter()
    while _waiting():
        if time.perf_counter() - started > timeout:
            sys.exit(f"the worker left {_waiting()} submissions after {timeout:.0f} s")
        time.sleep(0.2)
    return time.perf_counter() - started


def _quiet(url: str) -> None:
    """Wait until the server answers at once: requests of the last round, queued in its
    backlog after wrk stopped, must not slow down the next round."""
    for _ in range(100):
        started = time.perf_counter()
        urllib.request.urlopen(url, timeout=30).read()
        if time.perf_counter() - started < 0.05:
            return
        time.sleep(0.2)


def _median(loads: list[Load]) -> Load:
    """Median requests/s and p99 of the rounds; requests and errors summed."""
    return Load(
        rps=statistics.median(x.rps for x in loads),
        p99_ms=statistics.median(x.p99_ms for x in loads),
        requests=sum(x.requests for x in loads),
        errors=sum(x.errors for x in loads),
        seconds=sum(x.seconds for x in loads),
        drain_s=sum(x.drain_s for x in loads),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--workers", type=int, help="web processes (`leadloop serve`'s)")
    parser.add_argument("--threads", type=int, help="threads per web process (likewise)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--task-workers", type=int, default=1, help="`leadloop worker` processes")
    parser.add_argument(
        "--task-nice", type=int, default=10, help="the task workers' --nice (default 10, theirs)"
    )
    parser.add_argument(
        "--capture",
        choices=("during", "after"),
        default="during",
        help="task workers run during the load (as deployed), or start when it ends (a burst)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")

    data_dir = tempfile.mkdtemp(prefix="leadloop-bench-forms-")
    url = os.environ.get("DATABASE_URL", "")
    postgres = url.startswith(("postgres://", "postgresql://", "pgsql://"))
    env = {
        "DJANGO_SETTINGS_MODULE": "form_capture_settings",
        "LEADLOOP_DATA_DIR": data_dir,
        "DATABASE_URL": url if postgres else "",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LEADLOOP_SSL_REDIRECT": "false",
        "LEADLOOP_FORM_RATE_LIMIT": "off",
        "LEADLOOP_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent / "src")]),
    }
    pg_name = _setup(env)
    if pg_name:
        base, _, _ = url.rpartition("/")
        env["DATABASE_URL"] = f"{base}/{pg_name}"
    port = _free_port()
    from django.db import connection

    from leadloop.web.management.commands.serve import serve_size

    processes, threads = serve_size(connection.vendor, os.cpu_count() or 1)
    processes, threads = args.workers or processes, args.threads or threads
    server = subprocess.Popen(
        [
            str(VENV_BIN / "leadloop"),
            "serve",
            f"--port={port}",
            f"--workers={processes}",
            f"--threads={threads}",
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )

    def start_workers() -> list[subprocess.Popen[bytes]]:
        return [
            subprocess.Popen([str(VENV_BIN / "leadloop"), "worker", f"--nice={args.task_nice}"],
                             env={**os.environ, **env}, stdout=subprocess.DEVNULL)
            for _ in range(args.task_workers)
        ]  # fmt: skip

    def stop(workers: list[subprocess.Popen[bytes]]) -> None:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)

    workers = start_workers()
    script = Path(data_dir) / "post.lua"
    script.write_text(LUA, encoding="utf-8")
    base_url = f"http://127.0.0.1:{port}"
    from django.db import connection

    if pg_name:
        connection.close()
        connection.settings_dict["NAME"] = pg_name
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base_url}/f/bench", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        for path in ("/bench/floor", "/f/bench"):  # warm every worker up
            _wrk(base_url + path, connections=args.connections, seconds=3, script=script)
        _drain()
        if args.capture == "after":
            stop(workers)
        runs: dict[str, list[Load]] = {"/bench/floor": [], "/f/bench": []}
        for round_ in range(args.rounds):
            for path in sorted(runs, reverse=round_ % 2 == 1):
                _quiet(f"{base_url}/f/bench")
                load = _wrk(base_url + path, connections=args.connections,
                            seconds=args.seconds, script=script)  # fmt: skip
                if path == "/f/bench" and args.capture == "after":
                    workers = start_workers()
                    load.drain_s = _drain()
                    stop(workers)
                elif path == "/f/bench":
                    load.drain_s = _drain()
                runs[path].append(load)
    finally:
        server.terminate()
        stop(workers)
        server.wait(timeout=30)
        if pg_name:
            connection.close()
            connection.settings_dict["NAME"] = url.rpartition("/")[2]
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{pg_name}"')
        shutil.rmtree(data_dir, ignore_errors=True)

    from django.db import connection

    print(f"machine: {machine()} database: {connection.vendor}")
    print(
        f"leadloop serve (granian): processes {processes}, threads per process {threads}; "
        f"task workers at nice {args.task_nice}; wrk {args.connections} connections, "
        f"{args.rounds} rounds of {args.seconds} s each, medians (min-max)"
    )
    floor, form = _median(runs["/bench/floor"]), _median(runs["/f/bench"])
    for name, load, loads in (
        ("form /f/bench", form, runs["/f/bench"]),
        ("floor (one INSERT)", floor, runs["/bench/floor"]),
    ):
        rps, p99 = [x.rps for x in loads], [x.p99_ms for x in loads]
        print(
            f"{name:>20}: {load.rps:8.1f} req/s ({min(rps):.1f}-{max(rps):.1f})  "
            f"p99 {load.p99_ms:7.1f} ms ({min(p99):.0f}-{max(p99):.0f})  "
            f"{load.requests} requests, {load.errors} errors"
        )
    print(
        f"captured end to end: {form.requests / (form.seconds + form.drain_s):8.1f} submissions/s "
        f"({form.requests} submissions in {form.seconds:.0f} s of load + {form.drain_s:.1f} s "
        f"until the worker had captured them all; {args.task_workers} task worker(s) "
        f"{'running during the load' if args.capture == 'during' else 'started when it ended'})"
    )
    ratios = [a.rps / b.rps for a, b in zip(runs["/f/bench"], runs["/bench/floor"], strict=True)]
    print("ratio per round: " + ", ".join(f"{r:.3f}" for r in ratios))
    ok = form.p99_ms <= P99_MAX_MS and form.errors == 0 and floor.errors == 0
    print(f"p99 ≤ {P99_MAX_MS:.0f} ms and no errors: {'yes' if ok else 'no'}")
    report(
        benchmark=f"form_capture[{connection.vendor}]",
        value=form.rps,
        unit="submissions/s",
        floor=floor.rps,
        better="higher",
        goal=GOAL,
    )


if __name__ == "__main__":
    main()

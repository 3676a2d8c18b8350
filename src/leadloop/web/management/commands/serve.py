"""`leadloop serve`: serve Leadloop in production with granian, sized for the database.

Granian (a web server written in Rust) parses HTTP outside Python and keeps connections
alive, so a request costs the Python processes little more than Leadloop's own work: on two
cores it answers 1.5 to 2 times as many requests a second as gunicorn's sync workers did
(docs/benchmarks.md "form_capture"). Put a TLS-terminating proxy in front of it.

How many processes, and how many threads each, depends on where the database runs:

- SQLite runs inside the web process and keeps it busy while it works: one thread per
  process and two processes per core;
- PostgreSQL answers over a socket, and a thread waiting for it holds no CPU: two threads per
  process and one process per core, which leaves CPU for PostgreSQL's own processes when they
  share the machine.

``--workers`` and ``--threads`` override both.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection


def _at_least_one(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {number}")
    return number


def serve_size(vendor: str, cores: int) -> tuple[int, int]:
    """(processes, threads per process) for a database `vendor` on `cores` cores."""
    if vendor == "postgresql":
        return max(cores, 1), 2
    return max(2 * cores, 1), 1


def granian_command(
    *, host: str, port: int, workers: int, threads: int, backlog: int, access_log: bool
) -> list[str]:
    """The granian command line that serves `leadloop.wsgi` so."""
    return [
        sys.executable, "-m", "granian", "--interface", "wsgi",
        "--host", host, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(threads),
        "--backlog", str(backlog),
        "--access-log" if access_log else "--no-access-log",
        "leadloop.wsgi:application",
    ]  # fmt: skip


class Command(BaseCommand):
    help = (
        "Serve Leadloop for production (granian; DEBUG off, after `leadloop collectstatic`), "
        "with processes and threads sized for the database and the machine's cores."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address (127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port (8000).")
        parser.add_argument(
            "--workers", type=_at_least_one, help="Processes (by database and cores)."
        )
        parser.add_argument("--threads", type=_at_least_one, help="Threads per process (likewise).")
        parser.add_argument(
            "--backlog",
            type=_at_least_one,
            default=2048,
            help="Connections waiting to be accepted.",
        )
        parser.add_argument("--access-log", action="store_true", help="Log every request.")

    def handle(self, *args: Any, **options: Any) -> None:
        workers, threads = serve_size(connection.vendor, os.cpu_count() or 1)
        workers, threads = options["workers"] or workers, options["threads"] or threads
        command = granian_command(
            host=options["host"],
            port=options["port"],
            workers=workers,
            threads=threads,
            backlog=options["backlog"],
            access_log=options["access_log"],
        )
        self.stdout.write(
            f"Serving on http://{options['host']}:{options['port']}/ with granian "
            f"({connection.vendor}): processes {workers}, threads per process {threads}."
        )
        self.stdout.flush()
        os.execv(sys.executable, command)  # granian takes this process over: its signals too

"""`leadloop worker`: run a background worker for the configured task backend.

The worker lowers its own CPU priority first (``--nice``, 10 by default). Its work is deferred
by design (a form submission is answered at once and captured a second later), while a web
request has a visitor or a user waiting: when both want the same cores, the kernel should
serve the request first. On two cores with PostgreSQL beside them and 200 visitors posting a
form at once, that took the form endpoint from 1,363 to 1,756 submissions a second and its
99th-percentile latency from 292 to 212 ms; the worker captured what it had left about 8 s
after each 15-second burst (docs/benchmarks.md "form_capture"). A niced worker falls behind
while the web processes keep every core busy and catches up when they stop: under load that
never stops, add workers or cores, or pass ``--nice 0``.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Run a task worker: the database worker by default (LEADLOOP_TASKS_BACKEND=db), an RQ "
        "worker on Redis with LEADLOOP_TASKS_BACKEND=rq. Start as many as the load needs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", default="default", help="The queue to work (default).")
        parser.add_argument(
            "--burst", action="store_true", help="Run what is due, then exit (e.g. from cron)."
        )
        parser.add_argument(
            "--nice",
            type=int,
            default=10,
            choices=range(20),
            metavar="0-19",
            help="Lower the worker's CPU priority by this much first, so that web requests "
            "come first on a shared machine (default 10; 0 keeps it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        backend = getattr(settings, "LEADLOOP_TASKS_BACKEND", "db")
        if options["nice"] and backend != "immediate":
            self.stdout.write(f"Working at nice {os.nice(options['nice'])}.")
        if backend == "rq":
            # django-tasks-rq's Job class, and RQ's scheduler: deferred tasks (a capture of
            # form submissions, a webhook's next attempt) wait in RQ's scheduled registry
            # until a scheduler moves them to the queue.
            call_command(
                "rqworker",
                options["queue"],
                job_class="django_tasks_rq.Job",
                with_scheduler=True,
                burst=options["burst"],
            )
        elif backend == "db":
            call_command(
                "db_worker",
                queue_name=options["queue"],
                startup_delay=False,
                batch=options["burst"],
            )
        else:
            self.stderr.write(
                "LEADLOOP_TASKS_BACKEND=immediate runs tasks in the web process: no worker needed."
            )

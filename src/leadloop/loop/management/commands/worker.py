"""`leadloop worker`: run a background worker for the configured task backend."""

from __future__ import annotations

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

    def handle(self, *args: Any, **options: Any) -> None:
        backend = getattr(settings, "LEADLOOP_TASKS_BACKEND", "db")
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

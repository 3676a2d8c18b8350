"""`leadloop check_tasks`: enqueue a health check and wait for a worker to run it."""

from __future__ import annotations

import secrets
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django_tasks import TaskResultStatus

from leadloop.common.tasks import healthcheck


class Command(BaseCommand):
    help = "Enqueue a health-check task and wait until a worker has run it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--timeout",
            type=float,
            default=30.0,
            help="Seconds to wait for a worker (default 30).",
        )

    def handle(self, *args: Any, timeout: float, **options: Any) -> None:
        token = secrets.token_hex(8)
        started = time.monotonic()
        result = healthcheck.enqueue(token=token)
        backend = type(healthcheck.get_backend()).__name__
        while not result.is_finished:
            if time.monotonic() - started > timeout:
                raise CommandError(
                    f"No worker ran the health-check task {result.id} on {backend} within "
                    f"{timeout:g} s: is a worker running (`leadloop db_worker` for "
                    "LEADLOOP_TASKS_BACKEND=db, `leadloop rqworker default` for rq)?"
                )
            time.sleep(0.2)
            result.refresh()
        if result.status != TaskResultStatus.SUCCESSFUL:
            last_lines = [error.traceback.strip().splitlines()[-1] for error in result.errors]
            raise CommandError(
                f"The health-check task {result.id} on {backend} failed: {'; '.join(last_lines)}"
            )
        answer = result.return_value or {}
        if answer.get("token") != token:
            raise CommandError(
                f"The health-check task {result.id} on {backend} answered {answer!r}, "
                f"not the token {token!r} it was sent."
            )
        self.stdout.write(
            f"Tasks OK: {backend} ran the health check in {time.monotonic() - started:.1f} s "
            f"(the worker's database: {answer.get('database')}, its CPU priority: nice "
            f"{answer.get('nice')})."
        )

"""`leadloop sla_sweep`: run the SLA sweep once, now or as of a given time."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from leadloop.sla.sweep import BATCH, sla_sweep


def _aware(value: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise CommandError(f"--now: {value!r} is not an ISO 8601 time ({e}).") from e
    if timezone.is_naive(parsed):
        raise CommandError(f"--now: {value!r} needs a time zone, e.g. 2026-03-02T10:00:00+00:00.")
    return parsed


class Command(BaseCommand):
    help = (
        "Run the SLA sweep once: breaches, reminders and escalations that are due, then the "
        "e-mails waiting in the outbox. Safe to run while the scheduled sweep runs too."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--now",
            type=_aware,
            default=None,
            help="Sweep as of this aware ISO 8601 time instead of the current time.",
        )
        parser.add_argument(
            "--throttle",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="Wait this long after each e-mail (for a rate-limited SMTP relay).",
        )
        parser.add_argument(
            "--batch",
            type=int,
            default=BATCH,
            metavar="N",
            help=f"On PostgreSQL, claim at most N clocks per transaction (default {BATCH}); "
            "SQLite claims every due clock in one.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["throttle"] < 0:
            raise CommandError("--throttle: the seconds to wait cannot be negative.")
        if options["batch"] < 1:
            raise CommandError("--batch: claim at least 1 clock per transaction.")
        result = sla_sweep(
            now=options["now"] or timezone.now(),
            throttle=options["throttle"],
            batch=options["batch"],
        )
        self.stdout.write(
            f"breached {result.breached}, reminded {result.reminded}, escalated "
            f"{result.escalated}, messages {result.messages}, e-mails sent "
            f"{result.emails_sent}, failed {result.emails_failed}"
        )

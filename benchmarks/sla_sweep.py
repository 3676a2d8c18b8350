"""The SLA sweep over 100,000 open clocks against its floor: one set-based indexed UPDATE
flagging the due clocks; and a sweep with nothing due against a full one.

    .venv/bin/python benchmarks/sla_sweep.py [--clocks 100000] [--due 0.01] [--runs 7]

Runs on a fresh temporary SQLite database, or, when DATABASE_URL names PostgreSQL, on a fresh
test database beside it (created and dropped here). It writes `--clocks` running clocks (one
per lead; reps and a manager with e-mail addresses), of which a share `--due` is due: half for
a reminder (remind_at <= now < due_at), half breached (due_at <= now). Then, each timed
`--runs` times on the same rows (the claims undone and the messages deleted in between), the
fastest run counts (the one least disturbed by other processes on a shared machine) for:

- the floor: the two bare UPDATEs that flag the due clocks (reminded / breach handled), through
  the same partial indexes, in one committed transaction (undone afterwards, untimed);
- the full sweep, ``sla_sweep(send=False)``: the same claims in batches, each with its clocks
  read back and their outbox rows and in-app notifications written, in the same transactions;
- the empty sweep: ``sla_sweep()`` again when nothing is due, e-mail phase included.

The e-mails themselves are sent by ``messages_send`` outside any transaction, one SMTP round
trip each: their speed is the mail server's. They go to Django's in-memory backend here and
are reported beside as messages/s, not in the ratio. Prints the machine, the details, then the
harness's JSON lines: ``sla_sweep[vendor]`` (full sweep / floor, goal <= 3) and
``sla_sweep_idle[vendor]`` (empty sweep / full sweep, goal <= 0.10).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import database_fresh, machine, report, stopwatch

GOAL = 3.0  # full sweep within 3x the bare flagging UPDATE; see docs/benchmarks.md
IDLE_GOAL = 0.10  # a sweep with nothing due within 10 % of a full one
NOW = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.UTC)
REPS = 20


def _seed(clocks: int, due: float) -> tuple[int, int]:
    """Leads and their running first-response clocks; returns (reminders due, breaches due)."""
    from leadloop.accounts.models import Role, Team, TeamKind, User
    from leadloop.agreements.selectors import agreement_in_force
    from leadloop.leads.models import Lead, Stage
    from leadloop.sla.models import ClockKind, SlaClock

    agreement_in_force()
    team = Team.objects.create(name="Sales DACH", kind=TeamKind.SALES)
    User.objects.create(username="mia", role=Role.SALES_MANAGER, team=team, email="mia@x.example")
    reps = [
        User.objects.create(username=f"rep{i}", team=team, email=f"rep{i}@x.example")
        for i in range(REPS)
    ]
    leads = Lead.objects.bulk_create(
        Lead(email=f"lead{i}@co{i % 997}.example", first_name=f"Lead{i}", stage=Stage.MQL, cycle=1)
        for i in range(clocks)
    )
    reminders = breaches = int(clocks * due / 2)
    hour = dt.timedelta(hours=1)
    rows = []
    for i, lead in enumerate(leads):
        if i < breaches:  # due in the last days
            due_at = NOW - hour * (1 + i % 48)
        elif i < breaches + reminders:  # reminder due, the clock not yet
            due_at = NOW + dt.timedelta(minutes=1 + i % 110)
        else:  # due in the coming weeks
            due_at = NOW + hour * (3 + i % 600)
        rows.append(
            SlaClock(
                lead=lead, cycle=1, kind=ClockKind.FIRST_RESPONSE, owner=reps[i % REPS],
                team=team, started_at=due_at - 16 * hour, budget_hours=16.0, budget=16 * hour,
                due_at=due_at, remind_before=2 * hour, remind_at=due_at - 2 * hour,
                agreement_version=1,
            )
        )  # fmt: skip
    SlaClock.objects.bulk_create(rows, batch_size=5000)
    return reminders, breaches


def _floor(connection: Any) -> tuple[float, int]:
    """Seconds for the bare flagging UPDATEs, committed; and how many rows they flagged.
    They are undone afterwards (not timed)."""
    from django.db import transaction

    at = connection.ops.adapt_datetimefield_value(NOW)
    with stopwatch() as watch, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sla_slaclock SET breach_handled_at = %s WHERE stopped_at IS NULL "
            "AND breach_handled_at IS NULL AND due_at <= %s",
            [at, at],
        )
        flagged = cursor.rowcount
        cursor.execute(
            "UPDATE sla_slaclock SET reminded_at = %s WHERE breach_handled_at IS NULL "
            "AND remind_at IS NOT NULL AND reminded_at IS NULL AND stopped_at IS NULL "
            "AND remind_at <= %s AND due_at > %s",
            [at, at, at],
        )
        flagged += cursor.rowcount
    _undo()
    return watch.seconds, flagged


def _undo() -> None:
    """Put the clocks back as before the sweep and drop its messages."""
    from leadloop.sla.models import ClockOutcome, Notification, SlaClock, SlaMessage

    Notification.objects.all().delete()
    SlaMessage.objects.all().delete()
    SlaClock.objects.filter(reminded_at__isnull=False).update(reminded_at=None)
    SlaClock.objects.filter(breach_handled_at__isnull=False).update(
        breach_handled_at=None, outcome=ClockOutcome.OPEN, breached_at=None, escalate=False
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clocks", type=int, default=100_000)
    parser.add_argument("--due", type=float, default=0.01, help="share of the clocks due")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    connection, old_name = database_fresh()
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from django.core import mail
    from django.urls import reverse

    from leadloop.sla.notify import messages_send
    from leadloop.sla.sweep import sla_sweep

    reverse("web:dashboard")  # load the URLconf first, as a running worker has
    try:
        reminders, breaches = _seed(args.clocks, args.due)
        with connection.cursor() as cursor:  # fresh statistics for the planner, as in production
            cursor.execute("ANALYZE")
        floors, fulls, idles, sends = [], [], [], []
        for run in range(args.runs):
            if run:
                _undo()
            seconds, flagged = _floor(connection)
            floors.append(seconds)
            with stopwatch() as full:
                result = sla_sweep(now=NOW, send=False)
            fulls.append(full.seconds)
            assert (result.reminded, result.breached) == (reminders, breaches), result
            assert flagged == reminders + breaches
            mail.outbox = []
            with stopwatch() as sending:
                sent = messages_send(limit=10 * (reminders + breaches))
            sends.append(sent.sent / sending.seconds)
            with stopwatch() as idle:
                empty = sla_sweep(now=NOW)
            idles.append(idle.seconds)
            assert empty.messages == empty.emails_sent == 0, empty
    finally:
        if old_name is not None:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    floor, value, idle_s = (min(x) for x in (floors, fulls, idles))
    print(f"machine: {machine()} database: {connection.vendor}")
    print(
        f"{args.clocks} open clocks, {reminders} reminders and {breaches} breaches due "
        f"({result.messages} messages); fastest of {args.runs} runs: floor (bare UPDATEs) "
        f"{floor * 1000:.1f} ms, full sweep {value * 1000:.1f} ms, empty sweep "
        f"{idle_s * 1000:.2f} ms; e-mails (in-memory backend) "
        f"{statistics.median(sends):.0f} messages/s"
    )
    report(
        benchmark=f"sla_sweep_idle[{connection.vendor}]",
        value=idle_s * 1000,
        unit="ms",
        floor=value * 1000,
        better="lower",
        goal=IDLE_GOAL,
    )
    report(
        benchmark=f"sla_sweep[{connection.vendor}]",
        value=value * 1000,
        unit="ms",
        floor=floor * 1000,
        better="lower",
        goal=GOAL,
    )


if __name__ == "__main__":
    main()

"""A process of the SLA process tests (tests/sla/test_processes.py), run as a script:

    python tests/sla/sweep_worker.py seed REMINDERS BREACHES
    python tests/sla/sweep_worker.py sweep READY_FILE GO_FILE [sla_sweep options...]
    python tests/sla/sweep_worker.py report

against the database DATABASE_URL names. ``seed`` writes a sales team (a manager, six reps,
all with e-mail addresses) and MQLs handed to the reps through the real routing and SLA
services: REMINDERS of them on Monday 2 March 2026 10:00 Berlin (their reminders are due at
``NOW``, Tuesday 16:00) and BREACHES on the Friday before (breached by ``NOW``). ``sweep``
sets Django up, writes READY_FILE, waits for GO_FILE and runs ``leadloop sla_sweep --now NOW``
with the given options, so two processes start their sweeps together. ``report`` prints the
clocks and messages as JSON. Any error ends the process with a traceback and a non-zero status.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
REMIND_GROUP_AT = dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN)
BREACH_GROUP_AT = dt.datetime(2026, 2, 27, 10, tzinfo=BERLIN)
NOW = dt.datetime(2026, 3, 3, 16, tzinfo=BERLIN).isoformat()
REPS = 6


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.settings")
    import django

    django.setup()


def seed(reminders: int, breaches: int) -> None:
    import time_machine

    from leadloop.accounts.models import Role, Team, TeamKind, User
    from leadloop.agreements.selectors import agreement_in_force
    from leadloop.leads.models import Lead, Stage
    from leadloop.lifecycle.services import lead_transition
    from leadloop.routing.services import lead_assign
    from leadloop.sla.services import clocks_on_assignment

    team = Team.objects.create(name="Sales DACH", kind=TeamKind.SALES, time_zone="Europe/Berlin")
    marketing = Team.objects.create(name="Marketing", kind=TeamKind.MARKETING)
    User.objects.create(username="mia", role=Role.SALES_MANAGER, team=team, email="mia@example.com")
    admin = User.objects.create(username="root", role=Role.ADMIN)
    reps = [
        User.objects.create(
            username=f"rep{i}", role=Role.SALES_REP, team=team, email=f"rep{i}@example.com"
        )
        for i in range(REPS)
    ]
    agreement = agreement_in_force()
    for i in range(reminders + breaches):
        with time_machine.travel(REMIND_GROUP_AT if i < reminders else BREACH_GROUP_AT, tick=False):
            lead = Lead.objects.create(
                email=f"lead{i}@example.com", first_name=f"Lead{i}", queue=marketing
            )
            lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=None, rule="seed")
            assignment = lead_assign(
                lead_id=lead.pk, actor=admin, assignee=reps[i % REPS], why="seed",
                agreement_version=agreement.number,
            )  # fmt: skip
            clocks_on_assignment(assignment_id=assignment.pk, agreement=agreement)


def sweep(ready: str, go: str, *options: str) -> None:
    from django.core.management import call_command

    Path(ready).touch()
    deadline = time.monotonic() + 120
    while not Path(go).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go file within 120 s")
        time.sleep(0.005)
    call_command("sla_sweep", "--now", NOW, *options)


def report() -> None:
    from leadloop.sla.models import MessagePurpose, Notification, SlaClock, SlaMessage

    messages = list(
        SlaMessage.objects.values("clock_id", "purpose", "recipient__username", "sent_at")
    )
    per_clock = Counter((m["clock_id"], m["purpose"]) for m in messages)
    print(
        json.dumps(
            {
                "clocks": SlaClock.objects.count(),
                "reminded": SlaClock.objects.filter(reminded_at__isnull=False).count(),
                "breach_handled": SlaClock.objects.filter(breach_handled_at__isnull=False).count(),
                "reminders": sum(m["purpose"] == MessagePurpose.REMINDER for m in messages),
                "breaches": sum(m["purpose"] == MessagePurpose.BREACH for m in messages),
                "most_per_clock_and_purpose": max(per_clock.values(), default=0),
                "unsent": sum(m["sent_at"] is None for m in messages),
                "notifications": Notification.objects.count(),
                "reminded_without_message": SlaClock.objects.filter(reminded_at__isnull=False)
                .exclude(messages__purpose=MessagePurpose.REMINDER)
                .count(),
            }
        )
    )


if __name__ == "__main__":
    _setup()
    command, *args = sys.argv[1:]
    if command == "seed":
        seed(int(args[0]), int(args[1]))
    elif command == "sweep":
        sweep(*args)
    elif command == "report":
        report()
    else:
        raise SystemExit(f"unknown command {command!r}")

"""Background work of the SLAs: thin task wrappers the scheduler enqueues (loop/schedule.py)."""

from __future__ import annotations

from dataclasses import asdict

from django.utils import timezone
from django_tasks import task

from leadloop.agreements.selectors import agreement_in_force
from leadloop.sla.selectors import marketing_period_last
from leadloop.sla.services import marketing_sla_evaluate
from leadloop.sla.sweep import sla_sweep


@task()
def sla_sweep_due() -> dict[str, int]:
    """Breaches, reminders and escalations due now, then the outbox's e-mails (every minute).
    Two at once, or one killed and run again, tell each person once."""
    return asdict(sla_sweep(now=timezone.now()))


@task()
def marketing_sla_due() -> int:
    """Store marketing's delivery result of the latest period that has ended (hourly; the
    first run after a period's end stores it, later runs find it stored). Returns its id."""
    agreement = agreement_in_force()
    period = marketing_period_last(now=timezone.now(), agreement=agreement)
    result = marketing_sla_evaluate(
        period_start=period.start, period_end=period.end, agreement=agreement
    )
    return result.pk

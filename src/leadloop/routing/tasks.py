"""Background routing: thin task wrappers around the services (STYLE.md section 8)."""

from __future__ import annotations

from django.utils import timezone
from django_tasks import task

from leadloop.agreements.selectors import agreement_in_force
from leadloop.routing.services import handoff_deliver


@task()
def handoff_deliver_due() -> int:
    """Deliver the batched hand-off if one is due and not yet delivered; returns how many
    leads it routed (0 when nothing was due). Safe to run twice, and often: a due time is
    claimed once. Routing alone: the scheduler runs ``loop.tasks.handoff_deliver_due``, which
    calls the same service and then starts the SLA clocks and tells the webhooks."""
    batch = handoff_deliver(now=timezone.now(), agreement=agreement_in_force())
    return batch.delivered if batch is not None else 0

"""Background work of the webhooks: thin task wrappers around the services."""

from __future__ import annotations

from django_tasks import task

from leadloop.webhooks import services


@task()
def webhook_deliver_task(*, delivery_id: int) -> str | None:
    """Make the next attempt of delivery `delivery_id` if it is due; safe to run twice: the
    attempt is claimed first, and a delivery that is not due (or settled) is left alone.
    Returns the delivery's status after the attempt, None when nothing was sent."""
    delivery = services.webhook_deliver(delivery_id=delivery_id)
    return None if delivery is None else delivery.status


@task()
def webhook_deliveries_due() -> int:
    """The periodic sweep (every minute, loop.schedule): send every due delivery, e.g. what a
    lost task left behind. Returns how many attempts were made; two sweeps at once never
    repeat an attempt."""
    return services.webhook_deliveries_due()

"""Events turned into deliveries: one per subscribed endpoint, in the event's transaction, their
first attempt enqueued after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from leadloop.common.cache import ProcessCache
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment
from leadloop.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from leadloop.webhooks.payloads import assignment_payload, stage_change_payload

_ENDPOINTS: ProcessCache[list[tuple[int, list[str]]]] = ProcessCache("webhook endpoints")


def endpoints_changed() -> None:
    """Forget the cached endpoint list now and again after commit (other processes follow
    within LEADLOOP_CONFIG_CACHE_SECONDS)."""
    _ENDPOINTS.clear()
    transaction.on_commit(_ENDPOINTS.clear)


def _subscribed(event: WebhookEvent) -> list[int]:
    """Ids of the active endpoints that want `event`: one query, none filtered in SQL
    because SQLite cannot look inside a JSON list. Every stage change asks, so the list is
    kept a few seconds per process (common.cache); endpoint changes clear it."""
    rows = _ENDPOINTS.get()
    if rows is None:
        rows = _ENDPOINTS.set(
            list(
                WebhookEndpoint.objects.filter(is_active=True)
                .order_by()
                .values_list("pk", "events")
            )
        )
    return [pk for pk, events in rows if event.value in (events or ())]


def enqueue_sweep() -> None:
    from leadloop.webhooks.tasks import webhook_deliveries_due

    webhook_deliveries_due.enqueue()


def _enqueue_first_attempt(delivery_id: int) -> None:
    from leadloop.webhooks.tasks import webhook_deliver_task  # tasks import this module

    webhook_deliver_task.enqueue(delivery_id=delivery_id)


def _deliveries_create(
    *, event: WebhookEvent, lead_id: int | None, payload: Mapping[str, Any], endpoint_ids: list[int]
) -> list[WebhookDelivery]:
    raw_id = payload.get("event_id")
    event_id = uuid.UUID(str(raw_id)) if raw_id else uuid.uuid4()
    body = {**payload, "event": event.value, "event_id": str(event_id)}
    now = timezone.now()
    # A repeated emit of the same event (a retried task) meets the unique endpoint+event_id
    # and adds nothing.
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint_id=pk,
                event=event,
                event_id=event_id,
                lead_id=lead_id,
                payload=body,
                next_attempt_at=now,
            )
            for pk in endpoint_ids
        ],
        ignore_conflicts=True,
    )
    created = list(
        WebhookDelivery.objects.filter(
            event_id=event_id, endpoint_id__in=endpoint_ids, attempts=0
        ).order_by("pk")
    )
    for delivery in created:
        # After commit: a rolled-back change sends nothing. robust: a queue that is down only
        # delays the first attempt until the sweep; the change itself stands.
        transaction.on_commit(partial(_enqueue_first_attempt, delivery.pk), robust=True)
    return created


def webhook_event_emit(
    *, event: WebhookEvent, lead_id: int | None, payload: Mapping[str, Any]
) -> list[WebhookDelivery]:
    """One delivery of `payload` per active endpoint subscribed to `event`, in the caller's
    transaction; each is sent after commit. Only one query when no endpoint wants the event.

    `payload` must be JSON-serialisable; its ``event_id`` (when given) becomes the delivery's
    event id, so emitting it twice creates nothing new. Returns the deliveries still to send.
    """
    endpoint_ids = _subscribed(event)
    if not endpoint_ids:
        return []
    return _deliveries_create(
        event=event, lead_id=lead_id, payload=payload, endpoint_ids=endpoint_ids
    )


def webhook_stage_changed_emit(*, change: StageChange) -> list[WebhookDelivery]:
    """``webhook_event_emit`` of a stage change; builds the body only when an endpoint wants it."""
    endpoint_ids = _subscribed(WebhookEvent.STAGE_CHANGED)
    if not endpoint_ids:
        return []
    return _deliveries_create(
        event=WebhookEvent.STAGE_CHANGED,
        lead_id=change.lead_id,
        payload=stage_change_payload(change),
        endpoint_ids=endpoint_ids,
    )


def webhook_lead_assigned_emit(*, assignment: Assignment) -> list[WebhookDelivery]:
    """``webhook_event_emit`` of an assignment; builds the body only when an endpoint wants it."""
    endpoint_ids = _subscribed(WebhookEvent.LEAD_ASSIGNED)
    if not endpoint_ids:
        return []
    return _deliveries_create(
        event=WebhookEvent.LEAD_ASSIGNED,
        lead_id=assignment.lead_id,
        payload=assignment_payload(assignment),
        endpoint_ids=endpoint_ids,
    )


def webhook_stage_changes_emit(*, changes: Sequence[StageChange]) -> int:
    """``webhook_stage_changed_emit`` for many changes at once (a batch of new leads): one
    query when no endpoint wants stage changes. Returns the deliveries created."""
    endpoint_ids = _subscribed(WebhookEvent.STAGE_CHANGED) if changes else []
    if not endpoint_ids:
        return 0
    return sum(
        len(
            _deliveries_create(
                event=WebhookEvent.STAGE_CHANGED,
                lead_id=change.lead_id,
                payload=stage_change_payload(change),
                endpoint_ids=endpoint_ids,
            )
        )
        for change in changes
    )

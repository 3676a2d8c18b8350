"""Sending deliveries: each attempt claimed first, sent outside any transaction, its result
recorded, the next attempt scheduled with backoff; retry by hand and the test send.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.common.errors import Conflict, NotFound
from leadloop.webhooks import sending, signing
from leadloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from leadloop.webhooks.payloads import iso, ping_payload
from leadloop.webhooks.selectors import webhook_endpoint_get
from leadloop.webhooks.services.endpoints import SUBSCRIBABLE_EVENTS, require_manager

logger = logging.getLogger(__name__)


OPEN_STATUSES: Final = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


ERROR_MAX: Final = WebhookDelivery._meta.get_field("last_error").max_length or 500


class DeliveryNotRetryable(Conflict):
    code = "delivery_not_retryable"


def _timeout() -> float:
    return float(settings.LEADLOOP_WEBHOOK_TIMEOUT)


def max_attempts(event: str) -> int:
    """How many attempts a delivery of `event` gets: a test event one, others the setting."""
    return 1 if event == WebhookEvent.TEST else int(settings.LEADLOOP_WEBHOOK_MAX_ATTEMPTS)


def body_bytes(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON with sorted keys, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class _Claim:
    delivery: WebhookDelivery
    attempt: int  # 1-based number of the attempt this worker now owns


def _claim(delivery_id: int, now: datetime) -> _Claim | None:
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if (
        delivery is None
        or delivery.status not in OPEN_STATUSES
        or delivery.next_attempt_at is None
        or delivery.next_attempt_at > now
        or not (delivery.endpoint.is_active or delivery.event == WebhookEvent.TEST)
    ):
        return None
    # The lease: while this attempt is in flight it is not due, so the sweep leaves it alone;
    # if this worker dies, the attempt is due again once the lease runs out.
    lease = timedelta(seconds=2 * _timeout() + 30)
    won = WebhookDelivery.objects.filter(
        pk=delivery.pk,
        attempts=delivery.attempts,
        status__in=OPEN_STATUSES,
        next_attempt_at__lte=now,
    ).update(attempts=F("attempts") + 1, next_attempt_at=timezone.now() + lease)
    if won != 1:
        return None  # another worker claimed this attempt first
    return _Claim(delivery=delivery, attempt=delivery.attempts + 1)


def _headers(delivery: WebhookDelivery, body: bytes, attempt: int) -> dict[str, str]:
    timestamp = str(int(timezone.now().timestamp()))
    return {
        "Content-Type": "application/json",
        "User-Agent": sending.USER_AGENT,
        "X-Leadloop-Event": delivery.event,
        "X-Leadloop-Delivery": str(delivery.event_id),
        "X-Leadloop-Attempt": str(attempt),
        "X-Leadloop-Timestamp": timestamp,
        "X-Leadloop-Signature": signing.sign(delivery.endpoint.secret, timestamp, body),
    }


@transaction.atomic
def _record(claim: _Claim, result: sending.AttemptResult, at: datetime) -> WebhookDelivery | None:
    delivery = WebhookDelivery.objects.select_for_update().filter(pk=claim.delivery.pk).first()
    if delivery is None:
        return None  # the endpoint was deleted meanwhile
    entry = {
        "attempt": claim.attempt,
        "at": iso(at),
        "status_code": result.status_code,
        "error": result.error,
        "ms": result.ms,
        "response": result.response,
    }
    delivery.attempt_log = sorted([*delivery.attempt_log, entry], key=lambda e: e["attempt"])
    fields = ["attempt_log"]
    # Only the owner of the latest attempt moves the status: an attempt that outlived its
    # lease (a later one was claimed) is logged, nothing more.
    if delivery.attempts == claim.attempt:
        finished = timezone.now()
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error[:ERROR_MAX]
        if result.ok:
            delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, finished
            delivery.next_attempt_at = None
        elif claim.attempt >= max_attempts(delivery.event):
            delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_attempt_at = finished + sending.retry_delay(claim.attempt)
        fields += ["status", "delivered_at", "next_attempt_at", "last_status_code", "last_error"]
    delivery.save(update_fields=fields)
    return delivery


def _enqueue_next_attempt(delivery: WebhookDelivery) -> None:
    """A task at the next attempt's time, where the backend can defer; else the sweep's job."""
    from leadloop.webhooks.tasks import webhook_deliver_task

    if delivery.next_attempt_at is None or not webhook_deliver_task.get_backend().supports_defer:
        return
    try:
        webhook_deliver_task.using(run_after=delivery.next_attempt_at).enqueue(
            delivery_id=delivery.pk
        )
    except Exception:  # the sweep sends it anyway; a full queue must not lose the outcome
        logger.exception("Could not enqueue the next attempt of webhook delivery %s", delivery.pk)


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """Make the next attempt of a delivery that is due at `now` (default: the current time)
    and record its outcome; schedule the following attempt after a failure.

    Returns None, sending nothing, when the delivery is settled, not yet due, being sent by
    another worker, or its endpoint is off. Call it outside any transaction: it waits for
    the receiver for up to LEADLOOP_WEBHOOK_TIMEOUT seconds.
    """
    claim = _claim(delivery_id, now or timezone.now())
    if claim is None:
        return None
    delivery = claim.delivery
    body = body_bytes(delivery.payload)
    at = timezone.now()
    result = sending.post(
        url=delivery.endpoint.url,
        body=body,
        headers=_headers(delivery, body, claim.attempt),
        timeout=_timeout(),
    )
    recorded = _record(claim, result, at)
    if recorded is not None and recorded.status == DeliveryStatus.RETRYING:
        _enqueue_next_attempt(recorded)
    return recorded


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Attempt every pending or retrying delivery whose next attempt is due at `now`, oldest
    first, at most `limit`; returns how many attempts were made. The periodic sweep: it
    sends what a lost task left behind, and two sweeps at once never send an attempt twice."""
    now = now or timezone.now()
    due = (
        WebhookDelivery.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now)
        .exclude(endpoint__is_active=False, event__in=[e.value for e in SUBSCRIBABLE_EVENTS])
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "endpoint_id")[:limit]
    )
    # A receiver that is down costs one timeout per sweep, not one per delivery: its other
    # deliveries stay due and wait for the next sweep.
    unreachable: set[int] = set()
    attempts = 0
    for pk, endpoint_id in list(due):
        if endpoint_id in unreachable:
            continue
        delivery = webhook_deliver(delivery_id=pk, now=now)
        if delivery is None:
            continue
        attempts += 1
        if delivery.status != DeliveryStatus.DELIVERED and delivery.last_status_code is None:
            unreachable.add(endpoint_id)
    return attempts


def webhook_delivery_retry(*, delivery_id: int, actor: User) -> WebhookDelivery:
    """Attempt a retrying or failed delivery once more, now, and return it with the outcome.
    A failed one that fails again stays failed. Raises NotFound, PermissionDenied,
    DeliveryNotRetryable (delivered already, or its endpoint is off)."""
    require_manager(actor)
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} does not exist.")
    if delivery.status == DeliveryStatus.DELIVERED:
        raise DeliveryNotRetryable(
            f"Delivery {delivery_id} was delivered already; nothing to retry.", loc=("status",)
        )
    if not delivery.endpoint.is_active and delivery.event != WebhookEvent.TEST:
        raise DeliveryNotRetryable(
            f"Endpoint “{delivery.endpoint.name}” is off: turn it on to send its deliveries.",
            loc=("endpoint",),
        )
    now = timezone.now()
    WebhookDelivery.objects.filter(
        pk=delivery_id, status__in=[*OPEN_STATUSES, DeliveryStatus.FAILED]
    ).update(
        status=DeliveryStatus.RETRYING if delivery.attempts else DeliveryStatus.PENDING,
        next_attempt_at=now,
    )
    sent = webhook_deliver(delivery_id=delivery_id, now=now)
    return sent or WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def webhook_endpoint_test_send(*, endpoint_id: int, actor: User) -> WebhookDelivery:
    """Send a ``webhook.test`` event to the endpoint now (even when it is off) and return the
    delivery with the outcome; it is tried once, never retried. Raises NotFound,
    PermissionDenied."""
    require_manager(actor)
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    now = timezone.now()
    event_id = uuid.uuid4()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=WebhookEvent.TEST,
        event_id=event_id,
        lead_id=None,
        payload=dict(ping_payload(endpoint_name=endpoint.name, event_id=event_id, at=now)),
        next_attempt_at=now,
    )
    sent = webhook_deliver(delivery_id=delivery.pk, now=now)
    return sent or WebhookDelivery.objects.select_related("endpoint").get(pk=delivery.pk)

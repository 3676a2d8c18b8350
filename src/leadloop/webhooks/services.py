"""Outgoing webhooks: endpoints, events turned into deliveries, and sending them.

A delivery is one event for one endpoint::

    emit ──▶ pending ──attempt──▶ delivered                  (the receiver answered 2xx)
                │
                └─ other status, timeout, no connection ─▶ retrying ──wait──▶ attempt again
                                                             └─ max attempts ─▶ failed
    retrying | failed ──"Retry now"──▶ one more attempt at once

Each attempt is claimed with a conditional UPDATE of ``attempts`` before the request is sent,
so two workers (a task and the sweep, or two sweeps) never send the same attempt twice. The
request is sent outside any transaction and lock. A lost task costs nothing: the periodic
``webhook_deliveries_due`` sends whatever is due.

Errors: ``WebhookEndpointInvalid`` (each problem with its field), ``NotFound``,
``PermissionDenied``, ``DeliveryNotRetryable``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.common.cache import ProcessCache
from leadloop.common.errors import Conflict, LeadloopError, NotFound, PermissionDenied
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment
from leadloop.webhooks import sending, signing
from leadloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from leadloop.webhooks.payloads import (
    assignment_payload,
    iso,
    ping_payload,
    stage_change_payload,
)
from leadloop.webhooks.selectors import can_manage_webhooks, webhook_endpoint_get

logger = logging.getLogger(__name__)

# The events an endpoint can subscribe to; the test event is only sent on demand.
SUBSCRIBABLE_EVENTS: Final = (WebhookEvent.STAGE_CHANGED, WebhookEvent.LEAD_ASSIGNED)
OPEN_STATUSES: Final = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
NAME_MAX: Final = WebhookEndpoint._meta.get_field("name").max_length or 100
URL_MAX: Final = WebhookEndpoint._meta.get_field("url").max_length or 500
ERROR_MAX: Final = WebhookDelivery._meta.get_field("last_error").max_length or 500


class WebhookEndpointInvalid(LeadloopError):
    """An endpoint with one or more problems; ``errors`` has each with its ``loc``."""

    code = "webhook_endpoint_invalid"

    def __init__(self, errors: Sequence[tuple[tuple[str | int, ...], str]]) -> None:
        first_loc, _ = errors[0]
        super().__init__("; ".join(msg for _, msg in errors), loc=first_loc)
        self.errors = list(errors)


class DeliveryNotRetryable(Conflict):
    code = "delivery_not_retryable"


# --- Endpoints -------------------------------------------------------------------------------


def _require_manager(actor: User) -> None:
    if not can_manage_webhooks(actor):
        raise PermissionDenied("Only admins and marketing ops can manage webhooks.")


def _url_problem(url: str) -> str | None:
    if not url:
        return "URL: enter the address that receives the events, e.g. https://crm.example.com/hooks/leadloop."
    if len(url) > URL_MAX:
        return f"URL: at most {URL_MAX} characters (this one has {len(url)})."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"URL: {url!r} must start with http:// or https://."
    if any(c.isspace() for c in url):
        return f"URL: {url!r} contains a space."
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
    except ValueError:
        return f"URL: {url!r} has an invalid port."
    if not parts.hostname:
        return f"URL: {url!r} has no host name."
    return None


def _clean(*, name: str, url: str, events: Iterable[str]) -> tuple[str, str, list[str]]:
    """The stripped values, or WebhookEndpointInvalid naming every field that is wrong."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    name, url = name.strip(), url.strip()
    if not name:
        errors.append((("name",), "Name: give the endpoint a name, e.g. the receiving system."))
    elif len(name) > NAME_MAX:
        errors.append((("name",), f"Name: at most {NAME_MAX} characters."))
    problem = _url_problem(url)
    if problem:
        errors.append((("url",), problem))
    known = {e.value for e in SUBSCRIBABLE_EVENTS}
    chosen = list(dict.fromkeys(str(e) for e in events))
    for i, value in enumerate(chosen):
        if value not in known:
            errors.append(
                (
                    ("events", i),
                    f"Events: {value!r} is not an event Leadloop sends "
                    f"(known: {', '.join(sorted(known))}).",
                )
            )
    if not chosen:
        errors.append((("events",), "Events: choose at least one event to send."))
    if errors:
        raise WebhookEndpointInvalid(errors)
    return name, url, [e.value for e in SUBSCRIBABLE_EVENTS if e.value in chosen]


def webhook_endpoint_create(
    *, actor: User, name: str, url: str, events: Iterable[str], is_active: bool = True
) -> WebhookEndpoint:
    """A new endpoint with a fresh secret. Raises WebhookEndpointInvalid, PermissionDenied."""
    _require_manager(actor)
    name, url, chosen = _clean(name=name, url=url, events=events)
    _endpoints_changed()
    return WebhookEndpoint.objects.create(
        name=name, url=url, events=chosen, is_active=is_active, created_by=actor
    )


@transaction.atomic
def webhook_endpoint_update(
    *,
    actor: User,
    endpoint_id: int,
    name: str,
    url: str,
    events: Iterable[str],
    is_active: bool,
) -> WebhookEndpoint:
    """Change an endpoint; deliveries already created keep going to it (at its new URL).
    Raises WebhookEndpointInvalid, NotFound, PermissionDenied."""
    _require_manager(actor)
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    switched_on = is_active and not endpoint.is_active
    endpoint.name, endpoint.url, endpoint.events = _clean(name=name, url=url, events=events)
    endpoint.is_active = is_active
    endpoint.save(update_fields=["name", "url", "events", "is_active"])
    _endpoints_changed()
    if switched_on:  # what waited while it was off is due now
        transaction.on_commit(_enqueue_sweep, robust=True)
    return endpoint


def webhook_endpoint_delete(*, actor: User, endpoint_id: int) -> None:
    """Delete an endpoint with its delivery log. Raises NotFound, PermissionDenied."""
    _require_manager(actor)
    webhook_endpoint_get(endpoint_id=endpoint_id).delete()
    _endpoints_changed()


def webhook_secret_rotate(*, actor: User, endpoint_id: int) -> WebhookEndpoint:
    """Give the endpoint a new secret; every attempt from now on (retries too) is signed with
    it. Raises NotFound, PermissionDenied."""
    _require_manager(actor)
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    endpoint.secret = WebhookEndpoint._meta.get_field("secret").get_default()
    endpoint.save(update_fields=["secret"])
    return endpoint


# --- Emitting events -------------------------------------------------------------------------


_ENDPOINTS: ProcessCache[list[tuple[int, list[str]]]] = ProcessCache("webhook endpoints")


def _endpoints_changed() -> None:
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


def _enqueue_sweep() -> None:
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


# --- Delivering ------------------------------------------------------------------------------


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
    _require_manager(actor)
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
    _require_manager(actor)
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

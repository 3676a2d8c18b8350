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

from leadloop.webhooks.services.deliver import (
    DeliveryNotRetryable,
    body_bytes,
    max_attempts,
    webhook_deliver,
    webhook_deliveries_due,
    webhook_delivery_retry,
    webhook_endpoint_test_send,
)
from leadloop.webhooks.services.emit import (
    webhook_event_emit,
    webhook_lead_assigned_emit,
    webhook_stage_changed_emit,
    webhook_stage_changes_emit,
)
from leadloop.webhooks.services.endpoints import (
    SUBSCRIBABLE_EVENTS,
    WebhookEndpointInvalid,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_secret_rotate,
)

__all__ = [
    "SUBSCRIBABLE_EVENTS",
    "DeliveryNotRetryable",
    "WebhookEndpointInvalid",
    "body_bytes",
    "max_attempts",
    "webhook_deliver",
    "webhook_deliveries_due",
    "webhook_delivery_retry",
    "webhook_endpoint_create",
    "webhook_endpoint_delete",
    "webhook_endpoint_test_send",
    "webhook_endpoint_update",
    "webhook_event_emit",
    "webhook_lead_assigned_emit",
    "webhook_secret_rotate",
    "webhook_stage_changed_emit",
    "webhook_stage_changes_emit",
]

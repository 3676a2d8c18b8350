"""Reads of the webhook endpoints and their delivery logs, for the UI and the admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from leadloop.accounts.models import Role, User
from leadloop.common.errors import NotFound
from leadloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

WEBHOOK_MANAGERS: Final = frozenset({Role.ADMIN, Role.MARKETING_OPS})


def can_manage_webhooks(user: User) -> bool:
    """Admins, superusers and marketing ops configure webhooks and read their logs."""
    return user.is_authenticated and (user.role in WEBHOOK_MANAGERS or user.is_superuser)


@dataclass(frozen=True)
class EndpointRow:
    endpoint: WebhookEndpoint
    delivered: int
    pending: int
    retrying: int  # failed at least once, will be tried again
    failed: int  # gave up after the last attempt
    last_status: str | None  # of the newest delivery; None when there is none
    last_at: datetime | None


def webhook_endpoint_list() -> list[EndpointRow]:
    """Every endpoint by name, with its deliveries counted by status and the newest one's."""
    newest = WebhookDelivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at", "-id")

    def count(status: DeliveryStatus) -> Count:
        return Count("deliveries", filter=Q(deliveries__status=status))

    rows = WebhookEndpoint.objects.annotate(
        n_delivered=count(DeliveryStatus.DELIVERED),
        n_pending=count(DeliveryStatus.PENDING),
        n_retrying=count(DeliveryStatus.RETRYING),
        n_failed=count(DeliveryStatus.FAILED),
        last_status=Subquery(newest.values("status")[:1]),
        last_at=Subquery(newest.values("created_at")[:1]),
    ).order_by("name", "pk")
    return [
        EndpointRow(
            endpoint=e,
            delivered=e.n_delivered,
            pending=e.n_pending,
            retrying=e.n_retrying,
            failed=e.n_failed,
            last_status=e.last_status,
            last_at=e.last_at,
        )
        for e in rows
    ]


def webhook_delivery_counts(*, endpoint_id: int) -> dict[str, int]:
    """How many deliveries of the endpoint are in each status; every status is a key."""
    counts = dict.fromkeys(DeliveryStatus.values, 0)
    rows = (
        WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
        .order_by()  # no default ordering in the GROUP BY
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    for status, n in rows:
        counts[status] = n
    return counts


def webhook_endpoint_get(*, endpoint_id: int) -> WebhookEndpoint:
    """The endpoint; raises NotFound."""
    try:
        return WebhookEndpoint.objects.get(pk=endpoint_id)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound(f"Webhook endpoint {endpoint_id} does not exist.") from None


def webhook_delivery_list(
    *, endpoint_id: int, status: DeliveryStatus | None = None
) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, optionally of one status."""
    deliveries = WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.select_related("endpoint").order_by("-created_at", "-id")


def webhook_delivery_get(*, delivery_id: int, endpoint_id: int | None = None) -> WebhookDelivery:
    """The delivery (of `endpoint_id`, when given); raises NotFound."""
    deliveries = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id)
    if endpoint_id is not None:
        deliveries = deliveries.filter(endpoint_id=endpoint_id)
    delivery = deliveries.first()
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} does not exist.")
    return delivery

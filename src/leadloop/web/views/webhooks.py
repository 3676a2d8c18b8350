"""Webhooks in the browser: the endpoints, one endpoint's settings and secret, its delivery
log with each attempt, "Retry now" (htmx) and "Send test event".

Admins and marketing ops only. The services in ``leadloop.webhooks`` check every value and
send the requests; these views parse the post, call one of them and show the outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadloop.common.errors import NotFound
from leadloop.web.views.common import AuthedRequest
from leadloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from leadloop.webhooks.selectors import (
    can_manage_webhooks,
    webhook_delivery_counts,
    webhook_delivery_get,
    webhook_delivery_list,
    webhook_endpoint_get,
    webhook_endpoint_list,
)
from leadloop.webhooks.services import (
    SUBSCRIBABLE_EVENTS,
    DeliveryNotRetryable,
    WebhookEndpointInvalid,
    webhook_delivery_retry,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_test_send,
    webhook_endpoint_update,
    webhook_secret_rotate,
)
from leadloop.webhooks.signing import DEFAULT_TOLERANCE

PAGE_SIZE = 50


def _manager(request: AuthedRequest) -> None:
    if not can_manage_webhooks(request.user):
        raise PermissionDenied("Only admins and marketing ops manage webhooks.")


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    try:
        return webhook_endpoint_get(endpoint_id=endpoint_id)
    except NotFound as e:
        raise Http404(e.message) from e


def _event_labels(values: list[str]) -> list[str]:
    labels = dict(WebhookEvent.choices)
    return [str(labels.get(v, v)) for v in values]


@dataclass(frozen=True)
class _Spec:
    name: str
    url: str
    events: list[str]
    is_active: bool


def _spec(post: Any) -> _Spec:
    return _Spec(
        name=post.get("name", ""),
        url=post.get("url", ""),
        events=post.getlist("events"),
        is_active=bool(post.get("is_active")),
    )


def _edit_page(
    request: AuthedRequest,
    *,
    spec: _Spec,
    endpoint: WebhookEndpoint | None,
    error: WebhookEndpointInvalid | None = None,
) -> HttpResponse:
    errors: dict[str, str] = {}
    for loc, msg in error.errors if error else []:
        key = str(loc[0])
        errors[key] = f"{errors[key]} {msg}" if key in errors else msg
    return render(
        request,
        "web/webhooks/edit.html",
        {
            "endpoint": endpoint,
            "spec": spec,
            "errors": errors,
            "error_count": len(errors),
            "event_choices": [(e.value, e.label) for e in SUBSCRIBABLE_EVENTS],
            "tolerance_minutes": DEFAULT_TOLERANCE // 60,
        },
        status=400 if error else 200,
    )


@login_required
@require_GET
def webhook_index(request: AuthedRequest) -> HttpResponse:
    _manager(request)
    rows = [
        {"row": row, "events": _event_labels(row.endpoint.events)}
        for row in webhook_endpoint_list()
    ]
    return render(request, "web/webhooks/list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def webhook_new(request: AuthedRequest) -> HttpResponse:
    _manager(request)
    if request.method == "GET":
        every = [e.value for e in SUBSCRIBABLE_EVENTS]
        return _edit_page(
            request, spec=_Spec(name="", url="", events=every, is_active=True), endpoint=None
        )
    spec = _spec(request.POST)
    try:
        endpoint = webhook_endpoint_create(
            actor=request.user,
            name=spec.name,
            url=spec.url,
            events=spec.events,
            is_active=spec.is_active,
        )
    except WebhookEndpointInvalid as e:
        return _edit_page(request, spec=spec, endpoint=None, error=e)
    messages.success(
        request,
        f"Endpoint “{endpoint.name}” created. Give its signing secret to the receiver, "
        "then send a test event.",
    )
    return redirect("web:webhook_edit", endpoint_id=endpoint.pk)


@login_required
@require_http_methods(["GET", "POST"])
def webhook_edit(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    _manager(request)
    endpoint = _endpoint(endpoint_id)
    if request.method == "GET":
        spec = _Spec(
            name=endpoint.name,
            url=endpoint.url,
            events=list(endpoint.events),
            is_active=endpoint.is_active,
        )
        return _edit_page(request, spec=spec, endpoint=endpoint)
    spec = _spec(request.POST)
    try:
        endpoint = webhook_endpoint_update(
            actor=request.user,
            endpoint_id=endpoint.pk,
            name=spec.name,
            url=spec.url,
            events=spec.events,
            is_active=spec.is_active,
        )
    except WebhookEndpointInvalid as e:
        return _edit_page(request, spec=spec, endpoint=endpoint, error=e)
    messages.success(request, f"Endpoint “{endpoint.name}” saved.")
    return redirect("web:webhook_edit", endpoint_id=endpoint.pk)


@login_required
@require_POST
def webhook_rotate(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    _manager(request)
    endpoint = webhook_secret_rotate(actor=request.user, endpoint_id=_endpoint(endpoint_id).pk)
    messages.success(
        request,
        f"New signing secret for “{endpoint.name}”. Every request from now on, retries too, is "
        "signed with it: give it to the receiver.",
    )
    return redirect("web:webhook_edit", endpoint_id=endpoint.pk)


@login_required
@require_POST
def webhook_delete(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    _manager(request)
    endpoint = _endpoint(endpoint_id)
    webhook_endpoint_delete(actor=request.user, endpoint_id=endpoint.pk)
    messages.success(request, f"Endpoint “{endpoint.name}” and its delivery log deleted.")
    return redirect("web:webhook_list")


@login_required
@require_POST
def webhook_test(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    _manager(request)
    endpoint = _endpoint(endpoint_id)
    delivery = webhook_endpoint_test_send(actor=request.user, endpoint_id=endpoint.pk)
    last = delivery.attempt_log[-1] if delivery.attempt_log else {}
    if delivery.status == DeliveryStatus.DELIVERED:
        messages.success(
            request,
            f"Test event delivered: the receiver answered {delivery.last_status_code} "
            f"in {last.get('ms', 0)} ms.",
        )
    else:
        messages.error(request, f"Test event not delivered: {delivery.last_error}")
    return redirect("web:webhook_log", endpoint_id=endpoint.pk)


@login_required
@require_GET
def webhook_log(request: AuthedRequest, endpoint_id: int) -> HttpResponse:
    _manager(request)
    endpoint = _endpoint(endpoint_id)
    status = request.GET.get("status", "")
    if status not in DeliveryStatus.values:
        status = ""
    page = Paginator(
        webhook_delivery_list(
            endpoint_id=endpoint.pk, status=DeliveryStatus(status) if status else None
        ),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    counts = webhook_delivery_counts(endpoint_id=endpoint.pk)
    tabs = [("", "All", sum(counts.values()))] + [
        (s.value, s.label, counts[s]) for s in DeliveryStatus
    ]
    return render(
        request,
        "web/webhooks/log.html",
        {
            "endpoint": endpoint,
            "events": _event_labels(endpoint.events),
            "page": page,
            "status": status,
            "tabs": tabs,
        },
    )


@login_required
@require_GET
def webhook_delivery(request: AuthedRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    _manager(request)
    delivery = _delivery(endpoint_id, delivery_id)
    return render(
        request,
        "web/webhooks/delivery.html",
        {
            "endpoint": delivery.endpoint,
            "d": delivery,
            "attempts": [
                {**a, "at": datetime.fromisoformat(a["at"])} for a in reversed(delivery.attempt_log)
            ],
            "payload_json": json.dumps(
                delivery.payload, indent=2, sort_keys=True, ensure_ascii=False
            ),
        },
    )


def _delivery(endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    try:
        return webhook_delivery_get(delivery_id=delivery_id, endpoint_id=endpoint_id)
    except NotFound as e:
        raise Http404(e.message) from e


@login_required
@require_POST
def webhook_retry(request: AuthedRequest, endpoint_id: int, delivery_id: int) -> HttpResponse:
    """Retry now; from the log (htmx) the answer is the delivery's updated row."""
    _manager(request)
    delivery = _delivery(endpoint_id, delivery_id)
    error = ""
    try:
        delivery = webhook_delivery_retry(actor=request.user, delivery_id=delivery.pk)
    except DeliveryNotRetryable as e:
        error = e.message
    if getattr(request, "htmx", False):
        return render(
            request,
            "web/webhooks/_delivery_row.html",
            {"endpoint": delivery.endpoint, "d": delivery, "row_error": error, "updated": True},
        )
    if error:
        messages.error(request, error)
    elif delivery.status == DeliveryStatus.DELIVERED:
        messages.success(request, f"Delivered: the receiver answered {delivery.last_status_code}.")
    else:
        messages.error(request, f"Still not delivered: {delivery.last_error}")
    return redirect(reverse("web:webhook_delivery", args=[delivery.endpoint_id, delivery.pk]))

"""The signed-in person's notifications: the list, mark one or all as read (htmx), the bell."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from leadloop.common.errors import NotFound
from leadloop.sla.selectors import (
    notification_get,
    notification_list,
    notification_unread_count,
)
from leadloop.sla.services import notification_mark_read, notifications_mark_all_read
from leadloop.web.views.common import AuthedRequest


@login_required
@require_GET
def notification_index(request: AuthedRequest) -> HttpResponse:
    return render(
        request,
        "web/notifications/index.html",
        {
            "notifications": notification_list(user=request.user),
            "unread": notification_unread_count(user=request.user),
        },
    )


@login_required
@require_POST
def notification_read(request: AuthedRequest, notification_id: int) -> HttpResponse:
    try:
        notification_mark_read(user=request.user, notification_id=notification_id)
    except NotFound as e:
        raise Http404(e.message) from e
    if getattr(request, "htmx", False):
        note = notification_get(user=request.user, notification_id=notification_id)
        return render(request, "web/notifications/_item.html", {"note": note, "oob": True})
    return redirect("web:notifications")


@login_required
@require_POST
def notification_read_all(request: AuthedRequest) -> HttpResponse:
    count = notifications_mark_all_read(user=request.user)
    messages.success(request, f"{count} notification{'' if count == 1 else 's'} marked as read.")
    return redirect("web:notifications")


@login_required
@require_GET
def notification_bell(request: AuthedRequest) -> HttpResponse:
    """The bell alone: htmx polls it to keep the badge current."""
    return render(
        request,
        "web/notifications/_bell.html",
        {"unread": notification_unread_count(user=request.user), "oob": False},
    )

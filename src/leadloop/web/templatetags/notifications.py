"""The notification bell in the header: a link to /notifications/ with the unread count."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from leadloop.accounts.models import User
from leadloop.sla.selectors import notification_unread_count

register = template.Library()


@register.inclusion_tag("web/notifications/_bell.html", takes_context=True)
def notification_bell(context: template.Context, oob: bool = False) -> dict[str, Any]:
    """The bell with the signed-in user's unread count (one indexed COUNT per page)."""
    user = context["request"].user
    unread = notification_unread_count(user=user) if isinstance(user, User) else 0
    return {"unread": unread, "oob": oob}


@register.filter
def badge_count(value: int) -> str:
    """The number on the badge: up to 99, then "99+"."""
    return "99+" if value > 99 else str(value)


@register.filter
def ago(value: dt.datetime) -> str:
    """'just now' under a minute, else '5 minutes ago', '2 days ago'."""
    if timezone.now() - value < dt.timedelta(minutes=1):
        return "just now"
    return f"{timesince(value)} ago"

"""Helpers every view shares: who is looking, and in which time zone."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import HttpRequest

from leadloop.accounts.models import User


class AuthedRequest(HttpRequest):
    """A request behind ``login_required``: its user is a signed-in Leadloop user."""

    user: User


def viewer_zone(user: User) -> ZoneInfo:
    """The zone periods and times are shown in: the user's, else the team's, else the default."""
    for name in (
        user.time_zone,
        user.team.time_zone if user.team else "",
        settings.LEADLOOP_DEFAULT_TIME_ZONE,
    ):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")

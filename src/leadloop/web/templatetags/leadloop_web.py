"""Template helpers of the web UI: navigation, the viewer's zone, stage pills."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import template
from django.http import HttpRequest
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.leads.models import Stage
from leadloop.web.nav import NavItem, nav_for, settings_nav_for
from leadloop.web.views.common import viewer_zone

register = template.Library()


def _current(request: HttpRequest) -> str:
    match = request.resolver_match
    return match.url_name or "" if match else ""


@register.simple_tag(takes_context=True)
def main_nav(context: template.Context) -> list[NavItem]:
    request = context["request"]
    return nav_for(request.user, _current(request))


@register.simple_tag(takes_context=True)
def settings_nav(context: template.Context) -> list[NavItem]:
    request = context["request"]
    return settings_nav_for(request.user, _current(request))


@register.simple_tag(takes_context=True)
def user_zone(context: template.Context) -> ZoneInfo:
    user = context["request"].user
    return viewer_zone(user) if isinstance(user, User) else ZoneInfo("UTC")


@register.filter
def stage_label(value: str) -> str:
    """'mql' → 'MQL'; an unknown value is shown as stored."""
    try:
        return str(Stage(value).label)
    except ValueError:
        return value


@register.filter
def percent_figure(probability: float | None) -> str:
    """A probability as a percentage with the digits that tell leads apart: 31, 4.2, 0.37,
    <0.01. Conversion to customer is rare, so whole percents would show most leads as 0."""
    if probability is None:
        return ""
    percent = 100 * probability
    if percent >= 9.95:
        return f"{percent:.0f}"
    if percent >= 0.995:
        return f"{percent:.1f}"
    if percent >= 0.005:
        return f"{percent:.2f}"
    return "<0.01" if percent > 0 else "0"


@register.filter
def percent_of(part: int, whole: int) -> int:
    """Bar width in percent (0 to 100) of `part` against `whole`; 0 when `whole` is 0."""
    if not whole or part <= 0:
        return 0
    return max(1, min(100, round(100 * part / whole)))


@register.filter
def source_label(value: str) -> str:
    """A first-touch source for people: 'organic_search' → 'Organic search'."""
    if not value:
        return "(no source)"
    return value.replace("_", " ").capitalize()


@register.filter
def age(value: dt.datetime | None) -> str:
    """How long ago, in the largest whole unit: '12 min', '5 h', '3 d', '7 wk'."""
    if value is None:
        return "—"
    seconds = max(0, int((timezone.now() - value).total_seconds()))
    for unit, size in (("wk", 604800), ("d", 86400), ("h", 3600)):
        if seconds >= size * (2 if unit == "wk" else 1):
            return f"{seconds // size} {unit}"
    return f"{seconds // 60} min"

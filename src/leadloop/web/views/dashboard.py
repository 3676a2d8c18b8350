"""The home page: shared figures, then the blocks of the viewer's role."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from leadloop.accounts.models import Role, User
from leadloop.lifecycle import selectors
from leadloop.sla.reports import marketing_delivery_so_far
from leadloop.web.views.common import AuthedRequest, viewer_zone
from leadloop.web.views.compliance import scorecards_block
from leadloop.web.views.inbox import inbox_block, team_clocks_block

Block = Callable[[User, dt.datetime, ZoneInfo], dict[str, object]]


def _rep(user: User, now: dt.datetime, tz: ZoneInfo) -> dict[str, object]:
    return {"open_leads": selectors.open_leads_owned(owner_id=user.pk)}


def _manager(user: User, now: dt.datetime, tz: ZoneInfo) -> dict[str, object]:
    team = selectors.team_load(team_id=user.team_id) if user.team_id else ()
    return {
        "show_team": True,
        "team": user.team,
        "team_load": team,
        "team_open": sum(r.open_total for r in team),
    }


def _marketing(user: User, now: dt.datetime, tz: ZoneInfo) -> dict[str, object]:
    return {"sources": selectors.sources_in(period=selectors.month_period(now=now, tz=tz))}


def _delivery(user: User, now: dt.datetime, tz: ZoneInfo) -> dict[str, object]:
    """Marketing's running SLA period so far: delivered vs target, fit and acceptance."""
    return {"delivery": marketing_delivery_so_far(now=now)}


def _leader(user: User, now: dt.datetime, tz: ZoneInfo) -> dict[str, object]:
    return {
        "funnel": selectors.stage_now(),
        "cohort": selectors.mql_cohort(period=selectors.quarter_period(now=now, tz=tz)),
    }


# What each role sees under the shared figures; the order is the order on the page.
BLOCKS: dict[str, tuple[Block, ...]] = {
    Role.SALES_REP: (inbox_block, _rep),
    Role.SALES_MANAGER: (team_clocks_block, _manager, _rep, scorecards_block),
    Role.MARKETING_OPS: (_delivery, _marketing),
    Role.REVENUE_LEADER: (_leader, scorecards_block),
    Role.ADMIN: (_leader, _delivery, _marketing, scorecards_block),
}

TITLES: dict[str, str] = {
    Role.SALES_REP: "Your inbox",
    Role.SALES_MANAGER: "Team overview",
    Role.MARKETING_OPS: "Marketing overview",
    Role.REVENUE_LEADER: "Revenue overview",
    Role.ADMIN: "Overview",
}


@login_required
def dashboard(request: AuthedRequest) -> HttpResponse:
    user, now = request.user, timezone.now()
    tz = viewer_zone(user)
    month = selectors.month_period(now=now, tz=tz)
    context: dict[str, object] = {
        "title": TITLES.get(user.role, "Overview"),
        "month": month,
        "entries": selectors.stage_entries(period=month),
        "mqls_week": selectors.mqls_week_over_week(now=now, tz=tz),
    }
    for block in BLOCKS.get(user.role, ()):
        context.update(block(user, now, tz))
    return render(request, "web/dashboard.html", context)

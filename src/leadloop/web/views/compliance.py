"""SLA compliance: both teams' scorecards side by side, compliance per team, rep and week, and
marketing's delivery per period, as charts (each with its table one click away) and a CSV.

The charts read ``compliance_json`` and ``marketing_json`` through ``json_script``: the very
bodies ``GET /api/v1/sla/compliance`` and ``GET /api/v1/sla/marketing`` return for the same
viewer and parameters, so the page, the CSV and the API cannot disagree.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from leadloop.accounts.models import Role, Team, TeamKind, User
from leadloop.api.sla import DEFAULT_PERIODS, DEFAULT_WEEKS, compliance_json, marketing_json
from leadloop.common.errors import NotFound
from leadloop.sla.models import ClockKind
from leadloop.sla.reports import (
    MAX_WEEKS,
    MarketingScorecard,
    SalesScorecard,
    marketing_periods,
    marketing_scorecard,
    report_zone,
    sales_scorecard,
    sla_compliance,
    team_by_key,
)
from leadloop.web.views.common import AuthedRequest

WEEK_CHOICES: Final = (4, 8, 13, 26, 52)
CSV_COLUMNS: Final = (
    "team",
    "level",
    "rep",
    "scope",
    "period_start",
    "period_end",
    "kind",
    "met",
    "breached",
    "share_met",
    "share_low",
    "share_high",
    "sample",
    "running",
    "closed_otherwise",
    "median_hours",
    "p90_hours",
    "responses",
)


@dataclass(frozen=True)
class Params:
    team: Team | None
    weeks: int
    kind: ClockKind

    @property
    def query(self) -> str:
        values = {"weeks": str(self.weeks), "kind": self.kind.value}
        if self.team is not None:
            values["team"] = str(self.team.pk)
        return urlencode(values)


def _params(request: AuthedRequest) -> Params:
    """The page's filters; an unknown team is a 404, other odd values fall back to defaults."""
    key = request.GET.get("team", "").strip()
    try:
        team = team_by_key(key=key) if key else None
    except NotFound as e:
        raise Http404(e.message) from e
    weeks = request.GET.get("weeks", "")
    kind = request.GET.get("kind", "")
    return Params(
        team=team,
        weeks=int(weeks) if weeks.isdigit() and 1 <= int(weeks) <= MAX_WEEKS else DEFAULT_WEEKS,
        kind=ClockKind(kind) if kind in ClockKind.values else ClockKind.FIRST_RESPONSE,
    )


@dataclass(frozen=True)
class Scorecards:
    sales: SalesScorecard
    marketing: MarketingScorecard


def _scorecards(user: User, now: dt.datetime, team: Team | None) -> Scorecards:
    return Scorecards(
        sales=sales_scorecard(now=now, tz=report_zone(user=user, team=team), team=team),
        marketing=marketing_scorecard(),
    )


def scorecards_block(user: User, now: dt.datetime, tz: ZoneInfo) -> dict[str, object]:
    """Both teams' scorecards for a home page: a sales manager's team's, else all teams'."""
    team = user.team if user.role == Role.SALES_MANAGER else None
    if team is not None and team.kind != TeamKind.SALES:
        team = None
    return {"scorecards": _scorecards(user, now, team)}


@login_required
@require_GET
def compliance_page(request: AuthedRequest) -> HttpResponse:
    params = _params(request)
    now = timezone.now()
    tz = report_zone(user=request.user, team=params.team)
    report = sla_compliance(weeks=params.weeks, now=now, tz=tz, team=params.team, kind=params.kind)
    periods = marketing_periods(periods=DEFAULT_PERIODS)
    context: dict[str, Any] = {
        "title": "SLA compliance",
        "params": params,
        "report": report,
        # With a team chosen the charts compare its reps (and queue); else the teams.
        "chart_level": "people" if params.team is not None else "team",
        "chart_series": report.people if params.team is not None else report.teams,
        "compliance_data": compliance_json(report),
        "marketing": periods,
        "marketing_data": marketing_json(periods),
        "scorecards": _scorecards(request.user, now, params.team),
        "teams": Team.objects.filter(kind=TeamKind.SALES).order_by("name"),
        "week_choices": WEEK_CHOICES,
        "kinds": list(ClockKind),
    }
    return render(request, "web/compliance/page.html", context)


def _number(value: Any, digits: int) -> str:
    return "" if value is None else f"{round(float(value), digits):g}"


@login_required
@require_GET
def compliance_csv(request: AuthedRequest) -> HttpResponse:
    """The compliance numbers as CSV: one row per team, rep or queue and week, and one for the
    whole period (scope "period"), from the same JSON as the API."""
    params = _params(request)
    now = timezone.now()
    tz = report_zone(user=request.user, team=params.team)
    body = compliance_json(
        sla_compliance(weeks=params.weeks, now=now, tz=tz, team=params.team, kind=params.kind)
    )
    day = now.astimezone(tz).date().isoformat()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="sla-compliance-{body["kind"]}-{day}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for series in body["series"]:
        rep = "" if series["level"] == "team" else series["label"]
        tallies = [("week", w) for w in series["weeks"]] + [("period", series["total"])]
        for scope, t in tallies:
            share = t["share_met"]
            writer.writerow(
                [
                    series["team"],
                    series["level"],
                    rep,
                    scope,
                    t["start"],
                    t["end"],
                    body["kind"],
                    t["met"],
                    t["breached"],
                    _number(share["value"], 4),
                    _number(share["low"], 4),
                    _number(share["high"], 4),
                    share["sample"],
                    t["running"],
                    t["closed_otherwise"],
                    _number(t["median_hours"], 2),
                    _number(t["p90_hours"], 2),
                    t["responses"],
                ]
            )
    return response

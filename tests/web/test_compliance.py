"""The SLA compliance page: its charts' JSON is the API's, its tables and CSV show the same
numbers, and both teams' scorecards sit side by side (there and on the managers' homes)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from ninja.testing import TestClient

from leadloop.accounts.models import Role
from leadloop.accounts.services import token_create
from leadloop.api.main import api
from leadloop.sla.models import ClockOutcome, MarketingSlaResult
from tests.sla.factories import SlaClockFactory, person, sales_team
from tests.web.helpers import figure, row, text

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 3, 12, 12, tzinfo=BERLIN)


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.fixture(autouse=True)
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


@pytest.fixture
def dach() -> Any:
    return sales_team("Sales DACH")


@pytest.fixture
def leo(client, dach) -> Any:
    user = person("leo", role=Role.REVENUE_LEADER, last_name="Leader")
    client.force_login(user)
    return user


def _answered(owner: Any, stop: dt.datetime, outcome: ClockOutcome = ClockOutcome.MET) -> Any:
    return SlaClockFactory(
        owner=owner, started_at=berlin(2026, 3, 2, 9), due_at=berlin(2026, 3, 3, 16, 30),
        stopped_at=stop, outcome=outcome, goal_reached=True,
    )  # fmt: skip


@pytest.fixture
def clocks(dach) -> dict[str, Any]:
    ana, ben = person("ana", team=dach), person("ben", team=dach)
    for hour in (11, 13, 15):
        _answered(ana, berlin(2026, 3, 2, hour))
    _answered(ana, berlin(2026, 3, 4, 12), ClockOutcome.BREACHED)
    _answered(ben, berlin(2026, 3, 2, 10))
    SlaClockFactory(owner=ben, started_at=berlin(2026, 3, 11, 9), due_at=berlin(2026, 3, 13, 9))
    nils = person("nils", team=sales_team("Sales Nordics"))
    _answered(nils, berlin(2026, 3, 2, 12))
    return {"ana": ana, "ben": ben, "nils": nils}


def _results() -> None:
    for start, delivered in ((berlin(2026, 2, 23), 52), (berlin(2026, 3, 2), 46)):
        MarketingSlaResult.objects.create(
            period_start=start, period_end=start + dt.timedelta(days=7), delivered=delivered,
            target=50, good_fit=30, good_fit_share=30 / delivered, good_fit_target=0.6,
            answered=40, accepted=22, accepted_share=0.55, accepted_target=0.5,
            delivered_met=delivered >= 50, good_fit_met=True, accepted_met=True,
            agreement_version=1, evaluated_at=start + dt.timedelta(days=7, hours=1),
        )  # fmt: skip


def _script(response, name: str) -> Any:
    match = re.search(
        rf'<script id="{name}" type="application/json">(.*?)</script>', text(response), re.S
    )
    assert match, f"no json_script {name!r} on the page"
    return json.loads(unescape(match.group(1)))


def _api(user: Any, path: str) -> Any:
    issued = token_create(user=user, name="test", scopes=["reports:read"])
    response = TestClient(api).get(path, headers={"Authorization": f"Bearer {issued.key}"})
    assert response.status_code == 200, response.json()
    return response.json()


def test_the_pages_chart_data_are_the_api_responses(client, leo, clocks, dach):
    _results()

    page = client.get(reverse("web:sla_compliance") + f"?team={dach.pk}&weeks=4")

    assert _script(page, "compliance-data") == _api(leo, f"/sla/compliance?team={dach.pk}&weeks=4")
    assert _script(page, "marketing-data") == _api(leo, "/sla/marketing")


def test_without_a_team_the_chart_data_are_the_api_response_for_every_team(client, leo, clocks):
    page = client.get(reverse("web:sla_compliance"))

    data = _script(page, "compliance-data")
    assert data == _api(leo, "/sla/compliance")
    assert [s["label"] for s in data["series"] if s["level"] == "team"] == [
        "Sales DACH",
        "Sales Nordics",
    ]


def test_the_tables_show_share_met_breaches_and_response_times_per_rep(client, leo, clocks, dach):
    page = client.get(reverse("web:sla_compliance") + f"?team={dach.pk}&weeks=2")

    ana = clocks["ana"].pk
    assert row(page, "compliance-totals", "series", f"rep-{ana}") == [
        "Ana", "3 of 4 not enough data", "—", "1", "0", "5.0 h", "15.8 h", "4",
    ]  # fmt: skip
    assert row(page, "share-weeks", "series", f"rep-{ana}") == [
        "Ana", "3 of 4 not enough data", "0 of 0 no data",
    ]  # fmt: skip
    assert row(page, "breach-weeks", "series", f"rep-{ana}") == ["Ana", "1", "0"]
    assert row(page, "response-weeks", "series", f"rep-{ana}") == ["Ana", "5.0 h / 15.8 h", "— / —"]
    ben = clocks["ben"].pk
    assert row(page, "compliance-totals", "series", f"rep-{ben}")[4] == "1"  # not due yet
    assert 'title="3 of 4: fewer than 10, not enough data for a rate"' in text(page)


def test_a_rate_over_ten_or_more_shows_its_percent_and_interval(client, leo, dach):
    ana = person("ana", team=dach)
    for _ in range(9):
        _answered(ana, berlin(2026, 3, 2, 11))
    _answered(ana, berlin(2026, 3, 4, 12), ClockOutcome.BREACHED)

    page = client.get(reverse("web:sla_compliance") + f"?team={dach.pk}&weeks=2")

    assert row(page, "compliance-totals", "series", f"rep-{ana.pk}")[1:3] == [
        "9 of 10 90 % small sample",
        "60\u201398 %",  # an en dash
    ]


def test_the_csv_has_one_row_per_series_and_week_plus_the_period(client, leo, clocks, dach):
    response = client.get(reverse("web:sla_compliance_csv") + f"?team={dach.pk}&weeks=2")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        'filename="sla-compliance-first_response-2026-03-12.csv"' in response["Content-Disposition"]
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == [
        "team", "level", "rep", "scope", "period_start", "period_end", "kind", "met", "breached",
        "share_met", "share_low", "share_high", "sample", "running", "closed_otherwise",
        "median_hours", "p90_hours", "responses",
    ]  # fmt: skip
    assert len(rows) == 3 * 3  # the team, Ana and Ben: two weeks and the period each
    ana_week = next(r for r in rows if r["rep"] == "Ana" and r["scope"] == "week")
    assert {k: ana_week[k] for k in ("team", "level", "period_start", "met", "breached")} == {
        "team": "Sales DACH",
        "level": "rep",
        "period_start": "2026-03-02T00:00:00+01:00",
        "met": "3",
        "breached": "1",
    }
    assert (ana_week["share_met"], ana_week["median_hours"], ana_week["p90_hours"]) == (
        "0.75", "5", "15.8",
    )  # fmt: skip
    assert ana_week["sample"] == "not_enough_data"


def test_both_teams_scorecards_sit_side_by_side_on_the_page(client, leo, clocks):
    _results()

    page = client.get(reverse("web:sla_compliance"))

    assert 'data-scorecard="sales"' in text(page)
    assert 'data-scorecard="marketing"' in text(page)
    assert figure(page, "sales-breaches") == "1"
    assert figure(page, "sales-running") == "1"
    assert figure(page, "marketing-delivered") == "46"
    assert figure(page, "marketing-fit") == "65 %"
    assert figure(page, "marketing-accepted") == "55 %"


def test_without_an_evaluated_period_marketings_scorecard_says_when_it_comes(client, leo):
    page = client.get(reverse("web:sla_compliance"))

    assert "No week evaluated yet" in text(page)
    assert "No week has been evaluated yet" in text(page)


def test_an_unknown_team_is_a_404(client, leo):
    assert client.get(reverse("web:sla_compliance") + "?team=Sales%20Mars").status_code == 404


@pytest.mark.parametrize("role", [Role.SALES_MANAGER, Role.REVENUE_LEADER])
def test_the_sales_manager_and_revenue_leader_homes_show_both_scorecards(
    client, clocks, dach, role
):
    client.force_login(person("viewer", role=role, team=dach))

    page = client.get(reverse("web:dashboard"))

    assert 'data-scorecard="sales"' in text(page)
    assert 'data-scorecard="marketing"' in text(page)
    expected = "Sales DACH" if role == Role.SALES_MANAGER else "All sales teams"
    assert f"{expected} · first response within 16 business hours" in text(page)

"""The SLA report API: compliance per team, rep and week, and marketing's periods."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ninja.testing import TestClient

from leadloop.accounts.services import token_create
from leadloop.sla.models import ClockOutcome, MarketingSlaResult
from tests.sla.factories import SlaClockFactory, person, sales_team

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 3, 12, 12, tzinfo=BERLIN)


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


@pytest.fixture(autouse=True)
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def headers_for(user: Any, *scopes: str) -> dict[str, str]:
    issued = token_create(user=user, name="test", scopes=list(scopes))
    return {"Authorization": f"Bearer {issued.key}"}


@pytest.fixture
def dach() -> Any:
    return sales_team("Sales DACH")


@pytest.fixture
def viewer(dach: Any) -> Any:
    return person("leo", role="revenue_leader", team=None)


def _met(owner: Any, stop: dt.datetime) -> Any:
    return SlaClockFactory(
        owner=owner, started_at=berlin(2026, 3, 2, 9), due_at=berlin(2026, 3, 3, 16, 30),
        stopped_at=stop, outcome=ClockOutcome.MET, goal_reached=True,
    )  # fmt: skip


def test_compliance_gives_each_team_rep_and_week_with_counts_and_intervals(
    api_client: TestClient, dach, viewer
):
    ana = person("ana", team=dach)
    _met(ana, berlin(2026, 3, 2, 11))
    _met(ana, berlin(2026, 3, 2, 13))
    SlaClockFactory(owner=ana, started_at=berlin(2026, 3, 2, 9), due_at=berlin(2026, 3, 3, 9))

    response = api_client.get(
        f"/sla/compliance?team={dach.pk}&weeks=2", headers=headers_for(viewer, "reports:read")
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["kind"], body["time_zone"], body["weeks"]) == (
        "first_response", "Europe/Berlin", ["2026-03-02", "2026-03-09"],
    )  # fmt: skip
    assert [(s["level"], s["label"]) for s in body["series"]] == [
        ("team", "Sales DACH"),
        ("rep", "Ana"),
    ]
    week = body["series"][1]["weeks"][0]
    assert week["start"] == "2026-03-02T00:00:00+01:00"
    assert (week["met"], week["breached"], week["running"]) == (2, 1, 0)
    assert (week["median_hours"], week["p90_hours"], week["responses"]) == (3.0, 3.8, 2)
    share = week["share_met"]
    assert (share["count"], share["of"], share["sample"]) == (2, 3, "not_enough_data")
    assert share["value"] == pytest.approx(2 / 3)
    assert (round(share["low"], 3), round(share["high"], 3)) == (0.208, 0.939)


def test_compliance_for_an_unknown_team_is_a_404_naming_it(api_client: TestClient, viewer):
    response = api_client.get(
        "/sla/compliance?team=Sales%20Mars", headers=headers_for(viewer, "reports:read")
    )

    assert response.status_code == 404
    assert response.json()["detail"] == [
        {
            "loc": ["team"],
            "msg": "No team 'Sales Mars'; the sales teams are: Sales DACH.",
            "type": "not_found",
        }
    ]


def test_compliance_refuses_more_than_52_weeks(api_client: TestClient, viewer):
    response = api_client.get(
        "/sla/compliance?weeks=53", headers=headers_for(viewer, "reports:read")
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "weeks"


def test_the_sla_reports_need_the_reports_read_scope(api_client: TestClient, viewer):
    for path in ("/sla/compliance", "/sla/marketing"):
        response = api_client.get(path, headers=headers_for(viewer, "leads:read"))

        assert response.status_code == 403
        assert "needs the scope 'reports:read'" in response.json()["detail"][0]["msg"]


def test_marketing_gives_the_stored_periods_oldest_first_with_their_shares(
    api_client: TestClient, viewer
):
    for start, delivered in ((berlin(2026, 3, 2), 46), (berlin(2026, 2, 23), 52)):
        MarketingSlaResult.objects.create(
            period_start=start, period_end=start + dt.timedelta(days=7), delivered=delivered,
            target=50, good_fit=30, good_fit_share=30 / delivered, good_fit_target=0.6,
            answered=40, accepted=22, accepted_share=0.55, accepted_target=0.5,
            delivered_met=delivered >= 50, good_fit_met=True, accepted_met=True,
            agreement_version=1, evaluated_at=start + dt.timedelta(days=7, hours=1),
        )  # fmt: skip

    response = api_client.get("/sla/marketing", headers=headers_for(viewer, "reports:read"))

    assert response.status_code == 200
    periods = response.json()["periods"]
    assert [(p["delivered"], p["target"], p["delivered_met"]) for p in periods] == [
        (52, 50, True),
        (46, 50, False),
    ]
    assert periods[1]["good_fit"]["count"] == 30
    assert periods[1]["good_fit"]["of"] == 46
    assert periods[1]["accepted"]["sample"] == "ok"
    assert periods[1]["accepted"]["value"] == pytest.approx(0.55)

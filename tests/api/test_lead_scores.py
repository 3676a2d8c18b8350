"""Scores in the leads API: the list's four fields and the detail's `scores` object."""

from __future__ import annotations

import pytest
from ninja.testing import TestClient

from leadloop.capture.models import TouchKind
from leadloop.leads.models import Seniority
from leadloop.scoring.services import scores_touches_record
from tests.api.conftest import BearerFactory
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.scoring.factories import active_rules

pytestmark = pytest.mark.django_db


@pytest.fixture
def headers(bearer: BearerFactory) -> dict[str, str]:
    return bearer("leads:read")


def _scored():
    active_rules()
    lead = LeadFactory(seniority=Seniority.VP, company=CompanyFactory(sector="Software"))
    scores_touches_record(touch_ids=[TouchFactory(lead=lead, kind=TouchKind.DEMO).pk])
    return lead


def test_the_list_carries_the_scores(api_client: TestClient, headers: dict[str, str]) -> None:
    lead = _scored()
    unscored = LeadFactory()

    items = {i["id"]: i for i in api_client.get("/leads", headers=headers).json()["items"]}

    keys = ("fit_score", "fit_grade", "engagement_score", "predicted_probability")
    assert tuple(items[lead.pk][k] for k in keys) == (70, "B", 45, None)
    assert tuple(items[unscored.pk][k] for k in keys) == (None, None, None, None)


def test_the_detail_explains_each_score(api_client: TestClient, headers: dict[str, str]) -> None:
    lead = _scored()

    scores = api_client.get(f"/leads/{lead.pk}", headers=headers).json()["scores"]

    assert scores["fit_reasons"] == [
        {"points": 40, "text": "sector is Software"},
        {"points": 30, "text": "seniority is vp"},
    ]
    assert scores["engagement_reasons"] == [{"points": 30, "text": "demo request"}]
    assert scores["engagement_moves"][0]["text"].startswith("a demo request would add")
    assert (scores["predicted_probability"], scores["qualifies"]) == (None, True)


def test_leads_filter_by_qualifying(api_client: TestClient, headers: dict[str, str]) -> None:
    lead = _scored()
    LeadFactory()

    response = api_client.get("/leads", headers=headers, query_params={"qualifies": True})

    assert [i["id"] for i in response.json()["items"]] == [lead.pk]

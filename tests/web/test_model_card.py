"""The predictive model's card: empty state, metrics beside the chart, same JSON as the API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from ninja.testing import TestClient

from leadloop.accounts.models import Role
from leadloop.accounts.services import token_create
from leadloop.api.main import api as rest_api
from leadloop.leads.models import AttributeDefinition, AttributeType, Stage
from leadloop.scoring.models import PredictiveModel
from leadloop.scoring.training import model_train
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.web.conftest import SHOTS
from tests.web.helpers import figure, text

pytestmark = pytest.mark.django_db
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _trained() -> PredictiveModel:
    AttributeDefinition.objects.create(key="plan", label="Plan", type=AttributeType.CATEGORY)
    for i in range(120):
        created = NOW - timedelta(days=520 - i)
        converts = (i % 2 == 0) != (i % 7 == 0)
        LeadFactory(
            created_at=created,
            attributes={"plan": "pro" if i % 2 == 0 else "basic"},
            stage=Stage.CUSTOMER if converts else Stage.LEAD,
            customer_first_at=created + timedelta(days=9) if converts else None,
        )
    return model_train(seed=1, now=NOW)


def test_without_a_model_the_card_says_how_to_get_one(client):
    client.force_login(UserFactory(role=Role.MARKETING_OPS))

    response = client.get("/scoring/model/")

    assert response.status_code == 200
    assert "No model yet — import leads with known outcomes, then train" in text(response)


def test_a_sales_rep_may_not_see_the_model(client):
    client.force_login(UserFactory(role=Role.SALES_REP))

    assert client.get("/scoring/model/").status_code == 403


def test_the_card_shows_the_metrics_and_the_api_the_same_json(client):
    model = _trained()
    client.force_login(UserFactory(role=Role.REVENUE_LEADER))

    response = client.get("/scoring/model/")
    key = token_create(user=UserFactory(), name="t", scopes=["reports:read"]).key
    api = TestClient(rest_api).get("/scoring/model", headers={"Authorization": f"Bearer {key}"})

    page = text(response)
    embedded = re.search(
        r'<script id="model-card-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert embedded
    assert json.loads(embedded.group(1)) == api.json()
    assert figure(response, "auc") == f"{model.metrics['auc']:.3f}"
    assert 'data-split="random"' in page
    assert "chart.umd.min.js" in page
    assert api.json()["calibration"][0]["bin"] == "0.0-0.1"


def test_training_from_the_card_runs_the_task_and_activating_switches_versions(
    client, django_capture_on_commit_callbacks
):
    first = _trained()
    client.force_login(UserFactory(role=Role.ADMIN))

    with override_settings(TASKS=IMMEDIATE), django_capture_on_commit_callbacks(execute=True):
        response = client.post("/scoring/model/train")
    client.post(f"/scoring/model/{first.version}/activate")

    assert response.status_code == 302
    assert PredictiveModel.objects.count() == 2
    assert PredictiveModel.objects.get(is_active=True).version == first.version


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_model_card_draws_its_calibration_chart(browser, live_server):
    _trained()
    user = UserFactory(role=Role.MARKETING_OPS, username="mona")
    user.set_password("pw-for-tests")
    user.save()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mona")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/scoring/model/")
    page.wait_for_function("() => window.Chart && Chart.getChart('calibration-chart')")
    page.screenshot(path=str(SHOTS / "model-card.png"), full_page=True)

    assert page.get_by_role("heading", name="Predictive model").is_visible()
    assert page.get_by_role("link", name="Predictive model").is_visible()
    page.close()

"""The agreement over the API: read the version in force and every version with its diff,
draft a new version and approve it with a token of the right role."""

from __future__ import annotations

import pytest
from ninja.testing import TestClient

from leadloop.accounts.models import Role, User
from leadloop.accounts.services import token_create
from leadloop.agreements.models import AgreementStatus, AgreementVersion
from leadloop.agreements.selectors import agreement_in_force
from tests.accounts.factories import UserFactory
from tests.agreements.factories import body
from tests.api.conftest import BearerFactory

pytestmark = pytest.mark.django_db


def _headers(user: User, *scopes: str) -> dict[str, str]:
    issued = token_create(user=user, name="test", scopes=list(scopes) or ["agreement:write"])
    return {"Authorization": f"Bearer {issued.key}"}


def _ops() -> dict[str, str]:
    return _headers(UserFactory(role=Role.MARKETING_OPS, first_name="Olga", last_name="Ops"))


def _manager() -> dict[str, str]:
    return _headers(UserFactory(role=Role.SALES_MANAGER, first_name="Sam", last_name="Sales"))


def test_the_version_in_force_comes_with_its_body(api_client: TestClient, bearer: BearerFactory):
    response = api_client.get("/agreement", headers=bearer("leads:read"))

    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["number"], data["status"], data["approvals"]) == (1, "in_force", [])
    assert data["body"]["qualification"]["groups"][1] == {
        "fit_grade_min": None,
        "engagement_min": None,
        "predicted_min": 0.25,
    }
    assert data["body"]["handoff"]["mode"] == "instant"


def test_reading_needs_a_token_with_leads_read(api_client: TestClient, bearer: BearerFactory):
    response = api_client.get("/agreement", headers=bearer("reports:read"))

    assert response.status_code == 403
    assert response.json()["detail"][0]["msg"].startswith(
        "This endpoint needs the scope 'leads:read'"
    )


def test_a_draft_approved_by_both_sides_is_in_force(api_client: TestClient):
    new = body()
    new["slas"]["sales"]["first_response_hours"] = 8

    drafted = api_client.post(
        "/agreement/drafts", json={"title": "Faster", "body": new}, headers=_ops()
    )
    first = api_client.post("/agreement/versions/2/approve", json={"note": "ok"}, headers=_ops())
    second = api_client.post("/agreement/versions/2/approve", json={}, headers=_manager())

    assert drafted.status_code == 201, drafted.json()
    assert (drafted.json()["number"], drafted.json()["status"]) == (2, "draft")
    assert (first.status_code, first.json()["status"]) == (200, "draft")
    assert second.status_code == 200, second.json()
    data = second.json()
    assert data["status"] == "in_force"
    assert [(a["side"], a["user"]["name"]) for a in data["approvals"]] == [
        ("marketing", "Olga Ops"),
        ("sales", "Sam Sales"),
    ]
    assert agreement_in_force().body.slas.sales.first_response_hours == 8
    assert AgreementVersion.objects.get(number=1).status == AgreementStatus.SUPERSEDED


def test_a_bad_draft_answers_every_problem_naming_the_field(api_client: TestClient):
    new = body()
    new["routing"]["cap_per_day"] = 0
    new["handoff"]["time"] = "9am"

    response = api_client.post(
        "/agreement/drafts", json={"title": "x", "body": new}, headers=_ops()
    )

    assert response.status_code == 400
    assert response.json()["detail"] == [
        {
            "loc": ["body", "routing", "cap_per_day"],
            "msg": "Routing, cap per rep and day: Input should be greater than or equal to 1.",
            "type": "agreement_invalid",
        },
        {
            "loc": ["body", "handoff", "time"],
            "msg": "Hand-off, time: '9am' is not a time of day as HH:MM.",
            "type": "agreement_invalid",
        },
    ]


def test_a_sales_rep_token_cannot_approve(api_client: TestClient):
    api_client.post("/agreement/drafts", json={"title": "x"}, headers=_ops())

    response = api_client.post(
        "/agreement/versions/2/approve", json={}, headers=_headers(UserFactory(role=Role.SALES_REP))
    )

    assert response.status_code == 403
    (error,) = response.json()["detail"]
    assert (error["type"], error["loc"]) == ("approver_role_refused", ["actor"])
    assert error["msg"].startswith("A sales rep cannot approve the agreement")


def test_approving_needs_the_agreement_write_scope(api_client: TestClient):
    api_client.post("/agreement/drafts", json={"title": "x"}, headers=_ops())
    manager = UserFactory(role=Role.SALES_MANAGER)

    response = api_client.post(
        "/agreement/versions/2/approve", json={}, headers=_headers(manager, "leads:read")
    )

    assert response.status_code == 403
    assert "agreement:write" in response.json()["detail"][0]["msg"]


def test_a_version_comes_with_its_diff(api_client: TestClient, bearer: BearerFactory):
    new = body()
    new["handoff"] = {
        "mode": "batched",
        "weekday": 4,
        "time": "14:00",
        "time_zone": "Europe/Berlin",
    }
    api_client.post("/agreement/drafts", json={"title": "Fridays", "body": new}, headers=_ops())

    response = api_client.get("/agreement/versions/2", headers=bearer("leads:read"))

    assert response.status_code == 200
    diff = response.json()["diff"]
    assert diff["against"] == 1
    handoff = next(s for s in diff["sections"] if s["key"] == "handoff")
    assert handoff["changes"] == [
        {
            "kind": "changed",
            "old": "Instant: an MQL is handed to sales the moment it qualifies.",
            "text": "Batched: MQLs are collected and handed to sales every Friday at 14:00 "
            "(Europe/Berlin).",
        }
    ]


def test_versions_are_listed_newest_first(api_client: TestClient, bearer: BearerFactory):
    api_client.post("/agreement/drafts", json={"title": "Second"}, headers=_ops())

    response = api_client.get("/agreement/versions", headers=bearer("leads:read"))

    assert [(v["number"], v["status"], v["based_on"]) for v in response.json()] == [
        (2, "draft", 1),
        (1, "in_force", None),
    ]


def test_an_unknown_version_is_a_404_in_the_error_shape(
    api_client: TestClient, bearer: BearerFactory
):
    response = api_client.get("/agreement/versions/9", headers=bearer("leads:read"))

    assert response.status_code == 404
    assert response.json() == {
        "detail": [
            {
                "loc": ["version"],
                "msg": "There is no agreement version 9.",
                "type": "agreement_version_missing",
            }
        ]
    }


def test_a_draft_changes_until_someone_approves_it(api_client: TestClient):
    api_client.post("/agreement/drafts", json={"title": "First"}, headers=_ops())

    changed = api_client.patch("/agreement/versions/2", json={"title": "Better"}, headers=_ops())
    api_client.post("/agreement/versions/2/approve", json={}, headers=_manager())
    frozen = api_client.patch("/agreement/versions/2", json={"title": "Worse"}, headers=_ops())

    assert (changed.status_code, changed.json()["title"]) == (200, "Better")
    assert frozen.status_code == 409
    assert frozen.json()["detail"][0]["type"] == "agreement_frozen"

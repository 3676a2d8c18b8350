"""The routing API: reassign by hand, the assignment history, absences."""

from __future__ import annotations

import datetime as dt

import pytest
from ninja.testing import TestClient

from leadloop.accounts.models import OutOfOffice, Role
from leadloop.accounts.services import token_create
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.routing.services import lead_route
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.routing.factories import agreement, away, qualify, rep, sales_team

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 11, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def headers_for(user, *scopes: str) -> dict[str, str]:
    issued = token_create(user=user, name="test", scopes=list(scopes))
    return {"Authorization": f"Bearer {issued.key}"}


@pytest.fixture
def dach():
    return sales_team("Sales DACH", "ana", "ben")


@pytest.fixture
def meg(dach):
    return UserFactory(
        username="meg", first_name="Meg", last_name="", role=Role.SALES_MANAGER, team=dach
    )


def test_a_manager_reassigns_a_lead_and_gets_the_assignment(api_client: TestClient, dach, meg):
    agreement()
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    response = api_client.post(
        f"/leads/{lead.pk}/assign",
        json={"assignee": "ben", "why": "Ana is on holiday"},
        headers=headers_for(meg, "leads:assign"),
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in ("kind", "assignee", "queue", "previous", "why", "actor")} == {
        "kind": "manual",
        "assignee": "ben",
        "queue": None,
        "previous": "Ana",
        "why": "Ana is on holiday",
        "actor": "meg",
    }
    lead.refresh_from_db()
    assert lead.owner.username == "ben"
    assert Assignment.objects.get().agreement_version == body["agreement_version"] is not None


def test_reassigning_to_a_queue_by_name(api_client: TestClient, dach, meg):
    agreement()
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    response = api_client.post(
        f"/leads/{lead.pk}/assign",
        json={"queue": "Sales DACH", "why": "Pool it"},
        headers=headers_for(meg, "leads:assign"),
    )

    assert response.status_code == 201, response.json()
    assert (response.json()["queue"], response.json()["assignee"]) == ("Sales DACH", None)


def test_a_rep_may_not_reassign_and_the_error_names_the_role(api_client: TestClient, dach):
    agreement()
    ana = dach.members.get(username="ana")
    lead = LeadFactory(owner=ana)

    response = api_client.post(
        f"/leads/{lead.pk}/assign",
        json={"assignee": "ben", "why": "Too busy"},
        headers=headers_for(ana, "leads:assign"),
    )

    assert response.status_code == 403
    assert response.json()["detail"] == [
        {
            "loc": ["lead_id"],
            "msg": "Your role (Sales rep) may not reassign leads: sales managers, revenue "
            "leaders and admins may.",
            "type": "reassign_not_allowed",
        }
    ]
    assert not Assignment.objects.exists()


def test_reassigning_needs_the_assign_scope(api_client: TestClient, dach, meg):
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    response = api_client.post(
        f"/leads/{lead.pk}/assign",
        json={"assignee": "ben", "why": "x"},
        headers=headers_for(meg, "leads:read"),
    )

    assert response.status_code == 403
    assert "needs the scope 'leads:assign'" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("payload", "status", "loc", "type_"),
    [
        ({"assignee": "nobody", "why": "x"}, 404, ["body", "assignee"], "not_found"),
        ({"queue": "Nowhere", "why": "x"}, 404, ["body", "queue"], "not_found"),
        ({"assignee": "ben", "why": " "}, 400, ["why"], "assignment_invalid"),
        ({"why": "x"}, 400, ["assignee"], "assignment_invalid"),
        ({"assignee": "ana", "why": "x"}, 409, ["assignee"], "assignment_unchanged"),
    ],
)
def test_a_bad_reassignment_names_the_field(
    api_client: TestClient, dach, meg, payload, status, loc, type_
):
    agreement()
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    response = api_client.post(
        f"/leads/{lead.pk}/assign", json=payload, headers=headers_for(meg, "leads:assign")
    )

    assert response.status_code == status, response.json()
    assert (response.json()["detail"][0]["loc"], response.json()["detail"][0]["type"]) == (
        loc,
        type_,
    )


def test_the_history_lists_each_assignment_with_the_skipped_candidates(api_client: TestClient):
    rep("ana")
    away(
        rep("ben"),
        starts_at=NOW - dt.timedelta(days=1),
        ends_at=dt.datetime(2026, 3, 14, tzinfo=UTC),
    )
    terms = agreement(
        rules=[
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": "ben"}, {"username": "ana"}],
            }
        ]
    )
    lead = LeadFactory()
    change = qualify(lead)
    lead_route(lead_id=lead.pk, agreement=terms, stage_change_id=change.pk)

    response = api_client.get(
        f"/leads/{lead.pk}/assignments", headers=headers_for(UserFactory(), "leads:read")
    )

    assert response.status_code == 200
    [item] = response.json()
    assert (item["kind"], item["assignee"], item["rule"], item["stage_change_id"]) == (
        AssignmentKind.ROUTED,
        "ana",
        "Everyone",
        change.pk,
    )
    assert item["why"] == "Everyone: round robin, Ana's turn"
    assert item["explanation"] == [
        {
            "rule": "Everyone",
            "candidate": "ben",
            "skipped": "out of office until 2026-03-14 01:00",
            "text": "Ben: out of office until 2026-03-14 01:00",
        }
    ]


def test_the_history_of_an_unknown_lead_is_404(api_client: TestClient):
    response = api_client.get(
        "/leads/999999/assignments", headers=headers_for(UserFactory(), "leads:read")
    )

    assert response.status_code == 404


def test_a_rep_records_their_absence_and_lists_it(api_client: TestClient, dach):
    ana = dach.members.get(username="ana")

    created = api_client.post(
        "/out-of-office",
        json={"starts_at": "2026-03-16T08:00:00Z", "ends_at": "2026-03-20T17:00:00", "note": "Ski"},
        headers=headers_for(ana, "leads:assign"),
    )
    listed = api_client.get("/out-of-office", headers=headers_for(ana, "leads:read"))

    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["user"]["username"], body["starts_at"], body["ends_at"], body["ongoing"]) == (
        "ana",
        "2026-03-16T08:00:00Z",
        "2026-03-20T17:00:00Z",  # no offset: UTC
        False,
    )
    assert [a["id"] for a in listed.json()] == [body["id"]]


def test_an_absence_that_ends_before_it_starts_is_refused_naming_ends_at(
    api_client: TestClient, dach
):
    ana = dach.members.get(username="ana")

    response = api_client.post(
        "/out-of-office",
        json={"starts_at": "2026-03-16T08:00:00Z", "ends_at": "2026-03-15T08:00:00Z"},
        headers=headers_for(ana, "leads:assign"),
    )

    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["ends_at"]
    assert not OutOfOffice.objects.exists()


def test_a_manager_records_a_team_members_absence_and_a_rep_may_not(
    api_client: TestClient, dach, meg
):
    payload = {
        "user": "ben",
        "starts_at": "2026-03-16T08:00:00Z",
        "ends_at": "2026-03-17T08:00:00Z",
    }

    by_manager = api_client.post(
        "/out-of-office", json=payload, headers=headers_for(meg, "leads:assign")
    )
    by_rep = api_client.post(
        "/out-of-office",
        json=payload,
        headers=headers_for(dach.members.get(username="ana"), "leads:assign"),
    )

    assert by_manager.status_code == 201
    assert by_rep.status_code == 403
    assert by_rep.json()["detail"][0]["type"] == "out_of_office_not_allowed"


def test_ending_an_absence_going_on_ends_it_now(api_client: TestClient, dach):
    ana = dach.members.get(username="ana")
    absence = away(ana, starts_at=NOW - dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=2))

    response = api_client.post(
        f"/out-of-office/{absence.pk}/end", headers=headers_for(ana, "leads:assign")
    )

    assert response.status_code == 200
    assert response.json()["ends_at"] == "2026-03-11T10:00:00Z"

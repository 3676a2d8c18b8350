"""Stage moves over the API: status, body and database for each endpoint and each error."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from ninja.testing import TestClient

from leadloop.accounts.models import Role, TeamKind, User
from leadloop.accounts.services import token_create
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def clock() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team() -> Any:
    return TeamFactory(name="Sales DACH", kind=TeamKind.SALES)


@pytest.fixture
def rep(team: Any) -> User:
    return UserFactory(
        username="rita", first_name="Rita", last_name="Rep", role=Role.SALES_REP, team=team
    )


def _auth(user: User, *scopes: str) -> dict[str, str]:
    issued = token_create(user=user, name="test", scopes=list(scopes or ("leads:move",)))
    return {"Authorization": f"Bearer {issued.key}"}


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.json()
    (detail,) = response.json()["detail"]
    return detail


# --- Moves that succeed ---------------------------------------------------------------------


def test_the_owner_accepts_an_mql_and_gets_the_change_and_the_lead(
    api_client: TestClient, rep: User
) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep, cycle=1)

    response = api_client.post(f"/leads/{lead.pk}/accept", json={}, headers=_auth(rep))

    assert response.status_code == 200, response.json()
    body = response.json()
    change = StageChange.objects.get()
    assert body["stage_change"] == {
        "id": change.pk,
        "from_stage": "mql",
        "to_stage": "sal",
        "actor": {"id": rep.pk, "username": "rita", "name": "Rita Rep"},
        "rule": "",
        "reason": "",
        "note": "",
        "agreement_version": 1,
        "cycle": 1,
        "at": "2026-03-02T10:00:00Z",
    }
    assert body["lead"] == {
        "id": lead.pk,
        "stage": "sal",
        "stage_changed_at": "2026-03-02T10:00:00Z",
        "cycle": 1,
        "owner": {"id": rep.pk, "username": "rita", "name": "Rita Rep"},
        "queue": None,
    }
    assert body["merged_into"] is None
    lead.refresh_from_db()
    assert (lead.stage, lead.sal_first_at) == (Stage.SAL, NOW)


def test_accepting_and_winning_need_no_body(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(f"/leads/{lead.pk}/accept", headers=_auth(rep))

    assert response.status_code == 200, response.json()
    assert response.json()["lead"]["stage"] == "sal"


def test_moving_by_stage_is_the_same_move_with_a_note(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.SAL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/stage",
        json={"to": "sql", "note": "Budget confirmed"},
        headers=_auth(rep),
    )

    assert response.status_code == 200, response.json()
    assert response.json()["stage_change"]["to_stage"] == "sql"
    assert response.json()["lead"]["stage"] == "sql"
    change = StageChange.objects.get()
    assert (change.from_stage, change.to_stage, change.actor, change.note) == (
        Stage.SAL,
        Stage.SQL,
        rep,
        "Budget confirmed",
    )
    assert change.agreement_version == 1


def test_rejecting_with_a_recycle_reason_nurtures_holds_and_returns_the_lead_to_marketing(
    api_client: TestClient, rep: User
) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/reject",
        json={"reason": "not_now", "note": "Budget frozen until Q3"},
        headers=_auth(rep),
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["stage_change"]["reason"], body["stage_change"]["note"]) == (
        "not_now",
        "Budget frozen until Q3",
    )
    assert body["lead"]["stage"] == "nurture"
    assert body["lead"]["owner"] is None
    assert body["lead"]["queue"]["name"] == "Marketing"
    change = StageChange.objects.get()
    assert (change.to_stage, change.reason, change.agreement_version) == (
        Stage.NURTURE,
        "not_now",
        1,
    )
    lead.refresh_from_db()
    assert lead.requalify_after == NOW + dt.timedelta(days=90)


def test_a_reject_reason_that_disqualifies_disqualifies_by_stage_too(
    api_client: TestClient, rep: User
) -> None:
    lead = LeadFactory(stage=Stage.SAL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/stage", json={"to": "disqualified", "reason": "spam"}, headers=_auth(rep)
    )

    assert response.status_code == 200, response.json()
    assert response.json()["lead"]["stage"] == "disqualified"
    assert StageChange.objects.get().reason == "spam"


def test_losing_an_sql_with_a_lost_reason(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.SQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/lose", json={"reason": "price", "note": "Too dear"}, headers=_auth(rep)
    )

    assert response.status_code == 200, response.json()
    assert response.json()["lead"]["stage"] == "nurture"
    change = StageChange.objects.get()
    assert (change.from_stage, change.reason, change.agreement_version) == (Stage.SQL, "price", 1)


def test_winning_an_opportunity_makes_a_customer(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=rep)

    response = api_client.post(f"/leads/{lead.pk}/win", json={}, headers=_auth(rep))

    assert response.status_code == 200, response.json()
    assert response.json()["lead"]["stage"] == "customer"
    assert response.json()["lead"]["owner"]["id"] == rep.pk
    assert StageChange.objects.get().to_stage == Stage.CUSTOMER
    lead.refresh_from_db()
    assert lead.customer_first_at == NOW


def test_marketing_ops_promotes_a_lead_to_mql(api_client: TestClient) -> None:
    ops = UserFactory(role=Role.MARKETING_OPS)
    lead = LeadFactory(stage=Stage.LEAD)

    response = api_client.post(f"/leads/{lead.pk}/stage", json={"to": "mql"}, headers=_auth(ops))

    assert response.status_code == 200, response.json()
    assert response.json()["stage_change"]["actor"]["id"] == ops.pk
    change = StageChange.objects.get()
    assert (change.to_stage, change.actor, change.agreement_version, change.cycle) == (
        Stage.MQL,
        ops,
        1,
        1,
    )


def test_rejecting_as_a_duplicate_merges_into_the_lead_it_duplicates(
    api_client: TestClient, rep: User
) -> None:
    survivor = LeadFactory(stage=Stage.SAL, owner=rep)
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/reject",
        json={"reason": "duplicate", "duplicate_of": survivor.pk},
        headers=_auth(rep),
    )

    assert response.status_code == 200, response.json()
    assert response.json()["merged_into"] == survivor.pk
    assert response.json()["lead"]["id"] == survivor.pk
    assert not Lead.objects.filter(pk=lead.pk).exists()
    change = StageChange.objects.get()
    assert (change.lead_id, change.to_stage, change.reason) == (
        survivor.pk,
        Stage.DISQUALIFIED,
        "duplicate",
    )


# --- Errors -------------------------------------------------------------------------------------


def test_a_disallowed_move_is_a_409_naming_both_stages(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/stage", json={"to": "customer"}, headers=_auth(rep)
    )

    assert _error(response, 409) == {
        "loc": ["stage"],
        "msg": f"Lead {lead.pk} cannot move from MQL to Customer.",
        "type": "transition_not_allowed",
    }
    assert StageChange.objects.count() == 0


def test_accepting_twice_is_a_409_and_writes_one_change(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)
    headers = _auth(rep)
    api_client.post(f"/leads/{lead.pk}/accept", json={}, headers=headers)

    response = api_client.post(f"/leads/{lead.pk}/accept", json={}, headers=headers)

    assert _error(response, 409)["msg"] == f"Lead {lead.pk} cannot move from SAL to SAL."
    assert StageChange.objects.count() == 1


def test_a_rep_moving_another_reps_lead_is_a_403(
    api_client: TestClient, rep: User, team: Any
) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=team))

    response = api_client.post(f"/leads/{lead.pk}/accept", json={}, headers=_auth(rep))

    assert _error(response, 403) == {
        "loc": ["stage"],
        "msg": "A sales rep can only move the leads they own.",
        "type": "permission_denied",
    }
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    assert StageChange.objects.count() == 0


def test_marketing_ops_cannot_accept_a_lead_sales_owns(api_client: TestClient, rep: User) -> None:
    ops = UserFactory(role=Role.MARKETING_OPS)
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(f"/leads/{lead.pk}/accept", json={}, headers=_auth(ops))

    assert _error(response, 403)["msg"] == "Marketing ops cannot move a lead at MQL: sales owns it."
    assert StageChange.objects.count() == 0


def test_rejecting_without_a_reason_is_a_400_on_the_reason(
    api_client: TestClient, rep: User
) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(f"/leads/{lead.pk}/reject", json={"reason": ""}, headers=_auth(rep))

    assert _error(response, 400) == {
        "loc": ["reason"],
        "msg": "Moving a lead from MQL to Nurture needs a reason.",
        "type": "reason_required",
    }
    assert StageChange.objects.count() == 0


def test_moving_to_nurture_without_a_reason_is_a_400(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.SQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/stage", json={"to": "nurture"}, headers=_auth(rep)
    )

    assert _error(response, 400)["type"] == "reason_required"
    assert StageChange.objects.count() == 0


def test_an_unknown_reason_is_a_400_listing_the_known_ones(
    api_client: TestClient, rep: User
) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/reject", json={"reason": "price"}, headers=_auth(rep)
    )

    assert _error(response, 400) == {
        "loc": ["reason"],
        "msg": "'price' is not a reject reason of agreement v1; use one of: bad_fit, "
        "wrong_contact, no_budget, not_now, competitor, duplicate, spam, student.",
        "type": "reason_unknown",
    }
    assert StageChange.objects.count() == 0


def test_a_reason_that_leads_elsewhere_is_a_400(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/stage",
        json={"to": "disqualified", "reason": "not_now"},
        headers=_auth(rep),
    )

    assert _error(response, 400) == {
        "loc": ["reason"],
        "msg": "The reason 'Not now' sends a lead to Nurture, not Disqualified.",
        "type": "reason_unknown",
    }


def test_a_duplicate_without_the_lead_it_duplicates_is_a_400(
    api_client: TestClient, rep: User
) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/reject", json={"reason": "duplicate"}, headers=_auth(rep)
    )

    assert _error(response, 400) == {
        "loc": ["duplicate_of"],
        "msg": "A lead rejected as a duplicate needs the lead it duplicates.",
        "type": "duplicate_of_required",
    }
    assert StageChange.objects.count() == 0


def test_losing_a_lead_that_is_no_deal_is_a_409(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/lose", json={"reason": "price"}, headers=_auth(rep)
    )

    assert _error(response, 409)["msg"] == f"Lead {lead.pk} cannot move from MQL to Nurture."


def test_an_unknown_lead_is_a_404(api_client: TestClient, rep: User) -> None:
    response = api_client.post("/leads/987654/accept", json={}, headers=_auth(rep))

    assert _error(response, 404) == {
        "loc": ["lead_id"],
        "msg": "No lead with id 987654.",
        "type": "not_found",
    }


def test_an_unknown_stage_is_a_422_on_the_field(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(f"/leads/{lead.pk}/stage", json={"to": "won"}, headers=_auth(rep))

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "to"]


def test_moving_needs_the_leads_move_scope(api_client: TestClient, rep: User) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.post(
        f"/leads/{lead.pk}/accept", json={}, headers=_auth(rep, "leads:read")
    )

    assert _error(response, 403)["type"] == "scope_missing"
    assert "'leads:move'" in response.json()["detail"][0]["msg"]
    assert StageChange.objects.count() == 0


# --- The moves the caller may make -------------------------------------------------------------


def test_the_moves_of_a_rep_on_their_mql_list_targets_and_reason_codes(
    api_client: TestClient, rep: User
) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = api_client.get(f"/leads/{lead.pk}/moves", headers=_auth(rep, "leads:read"))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["lead_id"], body["stage"]) == (lead.pk, "mql")
    moves = {(m["action"], m["to"]): m for m in body["moves"]}
    assert list(moves) == [("accept", "sal"), ("reject", "disqualified"), ("reject", "nurture")]
    accept = moves[("accept", "sal")]
    assert (accept["label"], accept["reason_required"], accept["reasons"]) == ("Accept", False, [])
    nurture = moves[("reject", "nurture")]
    assert nurture["reason_required"]
    assert nurture["reason_kind"] == "reject"
    assert [r["code"] for r in nurture["reasons"]] == [
        "wrong_contact",
        "no_budget",
        "not_now",
        "competitor",
    ]
    assert nurture["reasons"][2] == {
        "code": "not_now",
        "label": "Not now",
        "kind": "reject",
        "action": "recycle",
        "next_step": "back to nurture, may re-qualify after 90 days",
    }
    assert moves[("reject", "disqualified")]["asks_duplicate"] is True


def test_a_rep_may_make_no_move_on_another_reps_lead(
    api_client: TestClient, rep: User, team: Any
) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=team))

    response = api_client.get(f"/leads/{lead.pk}/moves", headers=_auth(rep, "leads:read"))

    assert response.json()["moves"] == []


def test_the_moves_of_an_unknown_lead_are_a_404(api_client: TestClient, rep: User) -> None:
    response = api_client.get("/leads/987654/moves", headers=_auth(rep, "leads:read"))

    assert _error(response, 404)["msg"] == "No lead with id 987654."


# --- The lead's stage history ------------------------------------------------------------------


def test_the_lead_detail_shows_each_changes_rule_reason_and_agreement_version(
    api_client: TestClient, rep: User
) -> None:
    lead = LeadFactory(stage=Stage.MQL, owner=rep)
    api_client.post(f"/leads/{lead.pk}/reject", json={"reason": "bad_fit"}, headers=_auth(rep))

    response = api_client.get(f"/leads/{lead.pk}", headers=_auth(rep, "leads:read"))

    assert response.status_code == 200, response.json()
    (change,) = response.json()["stage_history"]
    assert (change["to_stage"], change["reason"], change["rule"], change["agreement_version"]) == (
        "disqualified",
        "bad_fit",
        "",
        1,
    )

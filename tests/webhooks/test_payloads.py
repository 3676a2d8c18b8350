from __future__ import annotations

import datetime as dt
import json

import pytest

from leadloop.accounts.models import Role, TeamKind
from leadloop.leads.models import Stage
from leadloop.routing.models import AssignmentKind
from leadloop.webhooks.payloads import assignment_payload, stage_change_payload
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory
from tests.webhooks.factories import AssignmentFactory, StageChangeFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 3, 2, 10, 15, 30, tzinfo=dt.UTC)


def test_a_stage_change_payload_says_who_moved_which_lead_where_and_why():
    rep = UserFactory(
        username="rick", email="rick@acme.example", first_name="Rick", last_name="Rep"
    )
    lead = LeadFactory(
        email="ada@analytical.example",
        external_id="crm-0042",
        first_name="Ada",
        last_name="Lovelace",
        stage=Stage.NURTURE,
    )
    change = StageChangeFactory(
        lead=lead,
        from_stage=Stage.MQL,
        to_stage=Stage.NURTURE,
        actor=rep,
        rule="",
        reason="not_now",
        note="Call again in Q3",
        agreement_version=3,
        cycle=2,
        at=AT,
    )

    payload = stage_change_payload(change)

    assert payload == {
        "event": "lead.stage_changed",
        "event_id": payload["event_id"],
        "at": "2026-03-02T10:15:30Z",
        "lead": {
            "id": lead.pk,
            "email": "ada@analytical.example",
            "external_id": "crm-0042",
            "first_name": "Ada",
            "last_name": "Lovelace",
        },
        "stage_change_id": change.pk,
        "from_stage": "mql",
        "to_stage": "nurture",
        "actor": {"username": "rick", "email": "rick@acme.example", "name": "Rick Rep"},
        "rule": "",
        "reason": "not_now",
        "note": "Call again in Q3",
        "agreement_version": 3,
        "cycle": 2,
    }
    assert json.loads(json.dumps(payload)) == payload


def test_a_stage_change_by_a_rule_has_no_actor_but_the_rule():
    change = StageChangeFactory(actor=None, rule="qualify: fit B+ and engagement 40+")

    payload = stage_change_payload(change)

    assert (payload["actor"], payload["rule"]) == (None, "qualify: fit B+ and engagement 40+")


def test_the_event_id_is_the_same_for_the_same_row_and_differs_between_rows():
    first, second = StageChangeFactory(), StageChangeFactory()

    assert stage_change_payload(first)["event_id"] == stage_change_payload(first)["event_id"]
    assert stage_change_payload(first)["event_id"] != stage_change_payload(second)["event_id"]


def test_an_assignment_payload_names_the_new_and_previous_owner_and_the_rule():
    ana = UserFactory(username="ana", email="ana@acme.example", first_name="Ana", last_name="A")
    manager = UserFactory(username="meg", role=Role.SALES_MANAGER, first_name="Meg", last_name="M")
    queue = TeamFactory(name="Sales DACH", kind=TeamKind.SALES)
    assignment = AssignmentFactory(
        kind=AssignmentKind.MANUAL,
        assignee=ana,
        queue=None,
        previous_assignee=None,
        previous_queue=queue,
        actor=manager,
        rule="",
        why="Reassigned by hand",
        agreement_version=4,
        cycle=1,
        at=AT,
    )

    payload = assignment_payload(assignment)

    assert payload == {
        "event": "lead.assigned",
        "event_id": payload["event_id"],
        "at": "2026-03-02T10:15:30Z",
        "lead": payload["lead"],
        "assignment_id": assignment.pk,
        "kind": "manual",
        "assignee": {"username": "ana", "email": "ana@acme.example", "name": "Ana A"},
        "queue": None,
        "previous_assignee": None,
        "previous_queue": {"id": queue.pk, "name": "Sales DACH"},
        "actor": {"username": "meg", "email": "meg@example.com", "name": "Meg M"},
        "rule": "",
        "why": "Reassigned by hand",
        "agreement_version": 4,
        "cycle": 1,
    }
    assert payload["lead"]["id"] == assignment.lead_id
    assert json.loads(json.dumps(payload)) == payload


def test_stage_change_and_assignment_of_the_same_id_have_different_event_ids():
    change = StageChangeFactory()
    assignment = AssignmentFactory(id=change.pk)

    assert stage_change_payload(change)["event_id"] != assignment_payload(assignment)["event_id"]

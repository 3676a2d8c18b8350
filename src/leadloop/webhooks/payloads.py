"""The JSON bodies of the webhook events; docs/webhooks.md shows each one.

Keys are stable: a key may be added, never renamed or removed within ``v1``. Every body has
``event``, ``event_id`` (the same for every endpoint, and the ``X-Leadloop-Delivery``
header, so a receiver can drop a repeat) and ``at`` (when it happened, ISO 8601 UTC).
``event_id`` is derived from the row that happened, so emitting the same stage change or
assignment twice creates no second delivery.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Final, TypedDict

from leadloop.accounts.models import Team, User
from leadloop.leads.models import Lead
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment
from leadloop.webhooks.models import WebhookEvent

# Namespace of the event ids derived from rows (uuid5); never change it, or receivers that
# dedupe by event id would see old events as new ones.
_EVENT_NAMESPACE: Final = uuid.UUID("5b7c1d52-3f0e-4c59-9a8e-6f1d2c7b4a10")


class LeadRef(TypedDict):
    id: int
    email: str | None
    external_id: str | None
    first_name: str
    last_name: str


class PersonRef(TypedDict):
    username: str
    email: str
    name: str


class QueueRef(TypedDict):
    id: int
    name: str


class StageChangedPayload(TypedDict):
    event: str
    event_id: str
    at: str
    lead: LeadRef
    stage_change_id: int
    from_stage: str
    to_stage: str
    actor: PersonRef | None
    rule: str
    reason: str
    note: str
    agreement_version: int | None
    cycle: int


class LeadAssignedPayload(TypedDict):
    event: str
    event_id: str
    at: str
    lead: LeadRef
    assignment_id: int
    kind: str
    assignee: PersonRef | None
    queue: QueueRef | None
    previous_assignee: PersonRef | None
    previous_queue: QueueRef | None
    actor: PersonRef | None
    rule: str
    why: str
    agreement_version: int | None
    cycle: int


class PingPayload(TypedDict):
    event: str
    event_id: str
    at: str
    endpoint: str
    message: str


def event_id_for(event: WebhookEvent, row_id: int) -> uuid.UUID:
    """The event id of the row `row_id` that `event` reports: the same on every call."""
    return uuid.uuid5(_EVENT_NAMESPACE, f"{event.value}:{row_id}")


def iso(at: dt.datetime) -> str:
    """An aware datetime as ISO 8601 in UTC with a ``Z``: ``2026-03-02T10:00:00Z``."""
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _lead(lead: Lead) -> LeadRef:
    return {
        "id": lead.pk,
        "email": lead.email,
        "external_id": lead.external_id,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
    }


def _person(user: User | None) -> PersonRef | None:
    if user is None:
        return None
    return {"username": user.username, "email": user.email, "name": user.get_full_name()}


def _queue(team: Team | None) -> QueueRef | None:
    return None if team is None else {"id": team.pk, "name": team.name}


def stage_change_payload(change: StageChange) -> StageChangedPayload:
    """The ``lead.stage_changed`` body of `change`."""
    event = WebhookEvent.STAGE_CHANGED
    return {
        "event": event.value,
        "event_id": str(event_id_for(event, change.pk)),
        "at": iso(change.at),
        "lead": _lead(change.lead),
        "stage_change_id": change.pk,
        "from_stage": change.from_stage,
        "to_stage": change.to_stage,
        "actor": _person(change.actor),
        "rule": change.rule,
        "reason": change.reason,
        "note": change.note,
        "agreement_version": change.agreement_version,
        "cycle": change.cycle,
    }


def assignment_payload(assignment: Assignment) -> LeadAssignedPayload:
    """The ``lead.assigned`` body of `assignment`: the new owner (a person or a team queue),
    the previous one, and the rule that chose it."""
    event = WebhookEvent.LEAD_ASSIGNED
    return {
        "event": event.value,
        "event_id": str(event_id_for(event, assignment.pk)),
        "at": iso(assignment.at),
        "lead": _lead(assignment.lead),
        "assignment_id": assignment.pk,
        "kind": assignment.kind,
        "assignee": _person(assignment.assignee),
        "queue": _queue(assignment.queue),
        "previous_assignee": _person(assignment.previous_assignee),
        "previous_queue": _queue(assignment.previous_queue),
        "actor": _person(assignment.actor),
        "rule": assignment.rule,
        "why": assignment.why,
        "agreement_version": assignment.agreement_version,
        "cycle": assignment.cycle,
    }


def ping_payload(*, endpoint_name: str, event_id: uuid.UUID, at: dt.datetime) -> PingPayload:
    """The ``webhook.test`` body sent by "Send test event"."""
    return {
        "event": WebhookEvent.TEST.value,
        "event_id": str(event_id),
        "at": iso(at),
        "endpoint": endpoint_name,
        "message": "A test event from Leadloop: answer with any 2xx status to acknowledge it.",
    }

"""Routing: reassign a lead by hand, a lead's assignment history (with why each other
candidate was skipped), and absences (out of office) that routing respects."""

from __future__ import annotations

import datetime as dt
from typing import Final

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import field_validator

from leadloop.accounts.models import OutOfOffice, User
from leadloop.accounts.selectors import user_by_username
from leadloop.api.auth import TokenAuth
from leadloop.api.errors import ErrorOut
from leadloop.common.errors import NotFound
from leadloop.leads.selectors import lead_get
from leadloop.loop.lifecycle import (  # clocks follow
    lead_reassign,
    out_of_office_end,
    out_of_office_set,
)
from leadloop.routing.selectors import (
    AssignmentRow,
    assignment_get,
    assignment_history,
    out_of_office_visible,
    queue_by_name,
)

router = Router(tags=["routing"])

_ERRORS: Final = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _actor(request: HttpRequest) -> User:
    return request.auth.user  # type: ignore[attr-defined]  # TokenAuth sets the ApiToken


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


# --- Assignments ------------------------------------------------------------------------------


class AssignIn(Schema):
    assignee: str | None = Field(None, description="Username of the person to hand the lead to.")
    queue: str | None = Field(None, description="Name of the team queue to hand the lead to.")
    why: str = Field(max_length=500, description="Why the lead is reassigned (required).")


class SkipOut(Schema):
    rule: str
    candidate: str | None = Field(description="Username; null when the whole rule did not apply.")
    skipped: str = Field(description='The reason alone: "at weekly cap 25/25".')
    text: str = Field(description='The line as shown: "Ana: at weekly cap 25/25".')


class AssignmentOut(Schema):
    """One change of the lead's owner: a person, or a team queue when no person owns it."""

    id: int
    at: dt.datetime
    kind: str = Field(description="routed, fallback, manual, returned, escalation or merge.")
    kind_label: str
    assignee: str | None = Field(description="Username of the new owner; null: a queue.")
    assignee_name: str | None
    queue: str | None = Field(description="The team queue that owns the lead; null: a person.")
    previous: str | None = Field(description='The owner before ("Ana", "Marketing queue").')
    rule: str = Field(description="The routing rule that matched; empty when none did.")
    why: str
    explanation: list[SkipOut] = Field(
        description="Every rule that did not apply and every candidate passed over, and why."
    )
    actor: str | None = Field(description="Username of who reassigned it; null: the system.")
    agreement_version: int | None
    stage_change_id: int | None = Field(description="The qualification this routing answered.")

    @classmethod
    def from_row(cls, row: AssignmentRow) -> AssignmentOut:
        return cls(
            id=row.id,
            at=row.at,
            kind=row.kind,
            kind_label=row.kind_label,
            assignee=row.assignee_username,
            assignee_name=row.assignee_name,
            queue=row.queue_name,
            previous=row.previous_name,
            rule=row.rule,
            why=row.why,
            explanation=[SkipOut(**line) for line in row.explanation],
            actor=row.actor_username,
            agreement_version=row.agreement_version,
            stage_change_id=row.stage_change_id,
        )


@router.post(
    "/leads/{lead_id}/assign",
    response={201: AssignmentOut, 409: ErrorOut, **_ERRORS},
    auth=TokenAuth("leads:assign"),
    url_name="lead_assign",
    summary="Reassign a lead by hand",
    description="Hand the lead to a person (`assignee`, a username) or a team queue (`queue`), "
    "with a `why`. Sales managers reassign within their own team; revenue leaders and admins "
    "anywhere; others get 403 naming their role. Errors: 400 `assignment_invalid` (no or both "
    "targets, no why, a person who cannot own leads), 403 `reassign_not_allowed`, 404 (lead, "
    "user, queue), 409 `assignment_unchanged`. Needs the scope `leads:assign`.",
)
def lead_assign_endpoint(
    request: HttpRequest, lead_id: int, payload: AssignIn
) -> Status[AssignmentOut]:
    assignee = queue = None
    if payload.assignee:
        assignee = user_by_username(username=payload.assignee)
        if assignee is None:
            raise NotFound(f"No user {payload.assignee!r}.", loc=("body", "assignee"))
    if payload.queue:
        queue = queue_by_name(name=payload.queue)
        if queue is None:
            raise NotFound(f"No team queue called {payload.queue!r}.", loc=("body", "queue"))
    # The loop use case: routing's checks, then the SLA clocks and the webhooks follow.
    assignment = lead_reassign(
        lead_id=lead_id, actor=_actor(request), assignee=assignee, queue=queue, why=payload.why
    )
    return Status(201, AssignmentOut.from_row(assignment_get(assignment_id=assignment.pk)))


@router.get(
    "/leads/{lead_id}/assignments",
    response={200: list[AssignmentOut], **_ERRORS},
    auth=TokenAuth("leads:read"),
    url_name="lead_assignments",
    summary="A lead's assignment history",
    description="Every change of the lead's owner, newest first: the rule that matched, why, "
    "and why each other candidate was skipped. Needs the scope `leads:read`.",
)
def lead_assignments_endpoint(request: HttpRequest, lead_id: int) -> list[AssignmentOut]:
    lead = lead_get(lead_id=lead_id)
    return [AssignmentOut.from_row(row) for row in assignment_history(lead_id=lead.pk)]


# --- Out of office ----------------------------------------------------------------------------


class UserBrief(Schema):
    id: int
    username: str
    name: str


class OutOfOfficeIn(Schema):
    user: str | None = Field(None, description="Username of who is away; default: you.")
    starts_at: dt.datetime = Field(description="ISO 8601; no offset: UTC.")
    ends_at: dt.datetime = Field(description="ISO 8601, after starts_at; no offset: UTC.")
    note: str = Field("", max_length=200)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc_when_naive(cls, value: dt.datetime) -> dt.datetime:
        return _aware(value)


class OutOfOfficeOut(Schema):
    id: int
    user: UserBrief
    starts_at: dt.datetime
    ends_at: dt.datetime
    note: str
    created_by: str | None = Field(description="Username of who recorded it.")
    ongoing: bool = Field(description="Whether the absence is going on now.")


class OutOfOfficeParams(Schema):
    user: str = Field("", description="Only this username's absences.")


def _absence_out(absence: OutOfOffice, now: dt.datetime) -> OutOfOfficeOut:
    user = absence.user
    return OutOfOfficeOut(
        id=absence.pk,
        user=UserBrief(id=user.pk, username=user.username, name=str(user)),
        starts_at=absence.starts_at,
        ends_at=absence.ends_at,
        note=absence.note,
        created_by=absence.created_by.username if absence.created_by else None,
        ongoing=absence.starts_at <= now < absence.ends_at,
    )


@router.get(
    "/out-of-office",
    response={200: list[OutOfOfficeOut], **_ERRORS},
    auth=TokenAuth("leads:read"),
    url_name="out_of_office_list",
    summary="Absences going on or to come",
    description="Yours; your team's too for a sales manager; everyone's for revenue leaders "
    "and admins. Routing skips a rep while they are away. Needs the scope `leads:read`.",
)
def out_of_office_list_endpoint(
    request: HttpRequest, params: Query[OutOfOfficeParams]
) -> list[OutOfOfficeOut]:
    now = timezone.now()
    rows = out_of_office_visible(viewer=_actor(request), at=now)
    if params.user:
        rows = rows.filter(user__username=params.user)
    return [_absence_out(a, now) for a in rows]


@router.post(
    "/out-of-office",
    response={201: OutOfOfficeOut, **_ERRORS},
    auth=TokenAuth("leads:assign"),
    url_name="out_of_office_create",
    summary="Record an absence",
    description="A person records their own absence, a sales manager their team's, an admin "
    "anyone's. Errors: 400 `out_of_office_invalid` (loc `ends_at` when it is not after "
    "`starts_at`), 403 `out_of_office_not_allowed`, 404 (user). Needs the scope "
    "`leads:assign`.",
)
def out_of_office_create_endpoint(
    request: HttpRequest, payload: OutOfOfficeIn
) -> Status[OutOfOfficeOut]:
    actor = _actor(request)
    user = actor
    if payload.user:
        found = user_by_username(username=payload.user)
        if found is None:
            raise NotFound(f"No user {payload.user!r}.", loc=("body", "user"))
        user = found
    absence = out_of_office_set(
        actor=actor,
        user=user,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        note=payload.note,
    )
    return Status(201, _absence_out(absence, timezone.now()))


@router.post(
    "/out-of-office/{absence_id}/end",
    response={200: OutOfOfficeOut, 204: None, **_ERRORS},
    auth=TokenAuth("leads:assign"),
    url_name="out_of_office_end",
    summary="End an absence now",
    description="An absence going on ends now (200, the absence); one that has not started is "
    "cancelled (204). Same permissions as recording one. Needs the scope `leads:assign`.",
)
def out_of_office_end_endpoint(
    request: HttpRequest, absence_id: int
) -> Status[OutOfOfficeOut | None]:
    now = timezone.now()
    absence = out_of_office_end(actor=_actor(request), out_of_office_id=absence_id, at=now)
    if absence.pk is None:
        return Status(204, None)
    return Status(200, _absence_out(absence, now))

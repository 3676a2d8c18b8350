"""Stage moves: move a lead by hand (with the permission checks of ``loop.lifecycle``), the
answers of sales (accept, reject, lose, win), and the moves the caller may make now."""

from __future__ import annotations

import datetime as dt
from typing import Final

from django.http import HttpRequest
from ninja import Field, Router, Schema

from leadloop.accounts.models import User
from leadloop.api.auth import TokenAuth
from leadloop.api.errors import ErrorOut
from leadloop.api.leads import StageChangeOut, TeamRef, UserRef
from leadloop.leads.models import Lead, Stage
from leadloop.leads.selectors import lead_get
from leadloop.lifecycle.models import StageChange
from leadloop.loop.lifecycle import lead_accept, lead_lose, lead_move, lead_reject, lead_win
from leadloop.loop.selectors import MoveOption, ReasonOption, moves_for

router = Router(tags=["lifecycle"])

_ERRORS: Final = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}
_MOVE_ERRORS_DOC: Final = (
    " Errors: 409 `transition_not_allowed` (the message names both stages), 400 "
    '`reason_required` / `reason_unknown` (loc `["reason"]`) / `duplicate_of_required`, 403 '
    "`permission_denied`, 404. Needs the scope `leads:move`."
)


# --- Input ------------------------------------------------------------------------------------


class NoteIn(Schema):
    note: str = Field("", max_length=5000, description="Free text kept with the stage change.")


class MoveIn(NoteIn):
    to: Stage = Field(description="The stage to move the lead to.")
    reason: str = Field(
        "",
        max_length=100,
        description="A reason code of the agreement in force; needed to reject, lose or "
        "disqualify (see `GET /leads/{id}/moves`).",
    )
    duplicate_of: int | None = Field(
        None, description="The lead this one duplicates, for a reason that merges duplicates."
    )


class RejectIn(NoteIn):
    reason: str = Field(max_length=100, description="A reject reason code of the agreement.")
    duplicate_of: int | None = Field(
        None, description="The lead this one duplicates, for a reason that merges duplicates."
    )


class LoseIn(NoteIn):
    reason: str = Field(max_length=100, description="A lost reason code of the agreement.")


# --- Output -----------------------------------------------------------------------------------


class LeadStateOut(Schema):
    """Where the lead stands after the move."""

    id: int
    stage: Stage
    stage_changed_at: dt.datetime | None
    cycle: int
    owner: UserRef | None
    queue: TeamRef | None = Field(description="The team queue owning the lead when no person does.")


class MoveOut(Schema):
    stage_change: StageChangeOut
    lead: LeadStateOut
    merged_into: int | None = Field(
        None,
        description="Set when the lead was rejected as a duplicate and merged: the surviving "
        "lead's id (then `lead` is the survivor).",
    )


class ReasonOptionOut(Schema):
    code: str
    label: str
    kind: str
    action: str = Field(description="nurture, recycle, disqualify or merge_duplicate.")
    next_step: str = Field(description="What follows, in words.")


class MoveOptionOut(Schema):
    to: Stage
    action: str = Field(description="accept, reject, qualify, convert, win, lose, promote, ...")
    label: str
    reason_required: bool
    reason_kind: str | None = Field(description="reject or lost; null: no reason taken.")
    reasons: list[ReasonOptionOut]
    asks_duplicate: bool = Field(description="Whether a reason here needs `duplicate_of`.")

    @classmethod
    def from_option(cls, option: MoveOption) -> MoveOptionOut:
        return cls(
            to=option.to,
            action=option.action,
            label=option.label,
            reason_required=option.reason_required,
            reason_kind=option.reason_kind,
            reasons=[_reason_out(r) for r in option.reasons],
            asks_duplicate=option.asks_duplicate,
        )


class MovesOut(Schema):
    lead_id: int
    stage: Stage
    moves: list[MoveOptionOut]


def _reason_out(reason: ReasonOption) -> ReasonOptionOut:
    return ReasonOptionOut(
        code=reason.code,
        label=reason.label,
        kind=reason.kind,
        action=reason.action,
        next_step=reason.next_step,
    )


def _note(payload: NoteIn | None) -> str:
    return payload.note if payload is not None else ""


def _actor(request: HttpRequest) -> User:
    return request.auth.user  # type: ignore[attr-defined]  # TokenAuth sets the ApiToken


def _moved(change: StageChange, lead_id: int, duplicate_of: int | None) -> MoveOut:
    """The change and the lead as it is now; a lead merged as a duplicate is the survivor now."""
    merged_into = None
    lead = Lead.objects.select_related("owner", "queue").filter(pk=lead_id).first()
    if lead is None and duplicate_of is not None:
        lead, merged_into = lead_get(lead_id=duplicate_of), duplicate_of
    elif lead is None:
        lead = lead_get(lead_id=lead_id)  # NotFound: deleted meanwhile
    change = StageChange.objects.select_related("actor").get(pk=change.pk)
    # One validation pass over the rows: resolvers must not run on already built schemas.
    return MoveOut.model_validate(
        {"stage_change": change, "lead": lead, "merged_into": merged_into}
    )


# --- Endpoints --------------------------------------------------------------------------------


@router.post(
    "/leads/{lead_id}/stage",
    response={200: MoveOut, **_ERRORS},
    auth=TokenAuth("leads:move"),
    url_name="lead_stage_move",
    summary="Move a lead to a stage",
    description="The one manual move: into MQL qualifies the lead; out of a sales stage into "
    "nurture or disqualified is an answer whose reason decides what follows (as the agreement "
    "says); any other allowed move is one stage change. Acts as the token's user."
    + _MOVE_ERRORS_DOC,
)
def lead_stage_move_endpoint(request: HttpRequest, lead_id: int, payload: MoveIn) -> MoveOut:
    change = lead_move(
        lead_id=lead_id,
        to=payload.to,
        actor=_actor(request),
        reason=payload.reason.strip(),
        note=payload.note,
        duplicate_of=payload.duplicate_of,
    )
    return _moved(change, lead_id, payload.duplicate_of)


@router.post(
    "/leads/{lead_id}/accept",
    response={200: MoveOut, **_ERRORS},
    auth=TokenAuth("leads:move"),
    url_name="lead_accept",
    summary="Accept an MQL",
    description="The owner accepts an MQL: it becomes a sales accepted lead (SAL)."
    + _MOVE_ERRORS_DOC,
)
def lead_accept_endpoint(
    request: HttpRequest, lead_id: int, payload: NoteIn | None = None
) -> MoveOut:
    change = lead_accept(lead_id=lead_id, actor=_actor(request), note=_note(payload))
    return _moved(change, lead_id, None)


@router.post(
    "/leads/{lead_id}/reject",
    response={200: MoveOut, **_ERRORS},
    auth=TokenAuth("leads:move"),
    url_name="lead_reject",
    summary="Reject an MQL or SAL with a reason",
    description="The reason's action in the agreement follows: back to nurture, recycled for "
    "N days, disqualified, or merged into `duplicate_of`; the lead returns to the marketing "
    "queue." + _MOVE_ERRORS_DOC,
)
def lead_reject_endpoint(request: HttpRequest, lead_id: int, payload: RejectIn) -> MoveOut:
    change = lead_reject(
        lead_id=lead_id,
        actor=_actor(request),
        reason=payload.reason.strip(),
        note=payload.note,
        duplicate_of=payload.duplicate_of,
    )
    return _moved(change, lead_id, payload.duplicate_of)


@router.post(
    "/leads/{lead_id}/lose",
    response={200: MoveOut, **_ERRORS},
    auth=TokenAuth("leads:move"),
    url_name="lead_lose",
    summary="Lose an SQL or opportunity with a reason",
    description="The lost reason's action in the agreement follows; the lead returns to the "
    "marketing queue." + _MOVE_ERRORS_DOC,
)
def lead_lose_endpoint(request: HttpRequest, lead_id: int, payload: LoseIn) -> MoveOut:
    change = lead_lose(
        lead_id=lead_id, actor=_actor(request), reason=payload.reason.strip(), note=payload.note
    )
    return _moved(change, lead_id, None)


@router.post(
    "/leads/{lead_id}/win",
    response={200: MoveOut, **_ERRORS},
    auth=TokenAuth("leads:move"),
    url_name="lead_win",
    summary="Win an opportunity",
    description="The opportunity is won: the lead becomes a customer." + _MOVE_ERRORS_DOC,
)
def lead_win_endpoint(request: HttpRequest, lead_id: int, payload: NoteIn | None = None) -> MoveOut:
    change = lead_win(lead_id=lead_id, actor=_actor(request), note=_note(payload))
    return _moved(change, lead_id, None)


@router.get(
    "/leads/{lead_id}/moves",
    response={200: MovesOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    auth=TokenAuth("leads:read"),
    url_name="lead_moves",
    summary="The moves the caller may make now",
    description="Each move the token's user may make on the lead now (allowed from its stage "
    "and permitted to them), whether it needs a reason and which reason codes of the agreement "
    "in force apply. The lead page shows the same list. Needs the scope `leads:read`.",
)
def lead_moves_endpoint(request: HttpRequest, lead_id: int) -> MovesOut:
    lead = lead_get(lead_id=lead_id)
    return MovesOut(
        lead_id=lead.pk,
        stage=Stage(lead.stage),
        moves=[MoveOptionOut.from_option(o) for o in moves_for(user=_actor(request), lead=lead)],
    )

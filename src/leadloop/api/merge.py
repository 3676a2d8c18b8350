"""Merging duplicates through the API: the same use case as the duplicates review page."""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from leadloop.accounts.models import Role, User
from leadloop.api.auth import TokenAuth
from leadloop.api.errors import ErrorOut
from leadloop.common.errors import PermissionDenied
from leadloop.loop.merge import MERGE_ROLES, lead_merge

router = Router(tags=["leads"])

_ERRORS: Final = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


class MergeIn(Schema):
    duplicate_id: int = Field(description="The lead merged into the survivor (it disappears).")
    keep: dict[str, Literal["survivor", "duplicate"]] = Field(
        default_factory=dict,
        description="Where both leads hold a value: which side's value to keep, per field.",
    )


class MergeOut(Schema):
    survivor_id: int
    merged_lead_id: int
    actor: str | None
    at: dt.datetime
    touches_moved: int
    stage_changes_moved: int


@router.post(
    "/leads/{survivor_id}/merge",
    auth=TokenAuth("leads:merge"),
    response={200: MergeOut, **_ERRORS},
    summary="Merge a duplicate into a lead",
)
def merge(request: HttpRequest, survivor_id: int, payload: MergeIn) -> MergeOut:
    """Merge `duplicate_id` into the lead `survivor_id`: every touch, stage change, score history
    and assignment of both is kept on the survivor, and the merge is recorded with who did it.
    Marketing ops, sales managers and admins may merge."""
    user: User = request.auth.user  # type: ignore[attr-defined]
    if not (user.is_superuser or user.role in MERGE_ROLES):
        raise PermissionDenied(
            f"The role {Role(user.role).label} cannot merge leads.", loc=("survivor_id",)
        )
    record = lead_merge(
        survivor_id=survivor_id, duplicate_id=payload.duplicate_id, actor=user, keep=payload.keep
    )
    return MergeOut(
        survivor_id=record.survivor_id,
        merged_lead_id=record.merged_lead_id,
        actor=user.username,
        at=record.at,
        touches_moved=len(record.snapshot["touch_ids"]),
        stage_changes_moved=len(record.snapshot["stage_change_ids"]),
    )

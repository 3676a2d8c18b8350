"""The hand-off agreement: the version in force, every version with its diff, drafts, approvals.

Reading needs `leads:read`; drafting and approving need `agreement:write` and act as the
token's user, with that user's role (marketing ops drafts; marketing ops and a sales manager
approve their sides; a revenue leader or an admin approves either side and names it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from leadloop.accounts.models import User
from leadloop.agreements.diff import AgreementDiff, agreement_diff
from leadloop.agreements.models import AgreementApproval, AgreementVersion
from leadloop.agreements.schema import AgreementBody
from leadloop.agreements.selectors import (
    agreement_in_force,
    agreement_predecessor,
    agreement_version_get,
    agreement_versions,
)
from leadloop.agreements.services import (
    agreement_approve,
    agreement_draft_create,
    agreement_draft_update,
    agreement_withdraw,
)
from leadloop.agreements.validation import AgreementInvalid
from leadloop.api.auth import TokenAuth
from leadloop.api.errors import ErrorOut

router = Router(tags=["agreement"])

_ERRORS: Final = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut}
_WRITE_ERRORS: Final = {400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **_ERRORS}


# --- Output -----------------------------------------------------------------------------------


class PersonRef(Schema):
    id: int
    username: str
    name: str


def _person(user: User | None) -> PersonRef | None:
    if user is None:
        return None
    return PersonRef(id=user.pk, username=user.username, name=str(user))


class ApprovalOut(Schema):
    side: Literal["marketing", "sales"]
    user: PersonRef
    at: dt.datetime
    note: str


class VersionSummaryOut(Schema):
    """A version without its body."""

    number: int
    title: str
    status: Literal["draft", "in_force", "superseded", "withdrawn"]
    based_on: int | None = Field(description="The number of the version this draft started from.")
    created_by: PersonRef | None
    created_at: dt.datetime
    effective_at: dt.datetime | None = Field(description="When both sides had approved it.")
    superseded_at: dt.datetime | None
    approvals: list[ApprovalOut]


class VersionOut(VersionSummaryOut):
    """A version with its body: qualification, routing, SLAs, reasons, hand-off."""

    preamble: str
    body: AgreementBody


class ChangeOut(Schema):
    kind: Literal["added", "removed", "changed", "moved"]
    text: str = Field(description="The line now (the line removed, for 'removed').")
    old: str = Field(description="For 'changed': the line before.")


class SectionDiffOut(Schema):
    key: str
    title: str
    changes: list[ChangeOut]


class DiffOut(Schema):
    against: int | None = Field(
        description="The version compared with (for a draft: the one in force); null for v1."
    )
    sections: list[SectionDiffOut]


class VersionWithDiffOut(VersionOut):
    diff: DiffOut


def _approval(approval: AgreementApproval) -> ApprovalOut:
    person = _person(approval.user)
    assert person is not None
    return ApprovalOut(side=approval.side, user=person, at=approval.at, note=approval.note)  # type: ignore[arg-type]


def _summary_fields(version: AgreementVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "title": version.title,
        "status": version.status,
        "based_on": version.based_on.number if version.based_on else None,
        "created_by": _person(version.created_by),
        "created_at": version.created_at,
        "effective_at": version.effective_at,
        "superseded_at": version.superseded_at,
        "approvals": [_approval(a) for a in version.approvals.all()],
    }


def _version_out(version: AgreementVersion) -> VersionOut:
    return VersionOut(
        **_summary_fields(version),
        preamble=version.preamble,
        body=AgreementBody.model_validate(version.body),
    )


def _diff_out(diff: AgreementDiff) -> DiffOut:
    return DiffOut(
        against=diff.old_number,
        sections=[
            SectionDiffOut(
                key=s.key,
                title=s.title,
                changes=[ChangeOut(kind=c.kind, text=c.text, old=c.old) for c in s.changes],
            )
            for s in diff.sections
        ],
    )


def _actor(request: HttpRequest) -> User:
    return request.auth.user  # type: ignore[attr-defined]  # TokenAuth's ApiToken


def _fresh(number: int) -> AgreementVersion:
    """The version re-read with its approvals (after a write)."""
    return agreement_version_get(number=number)


def _invalid(exc: AgreementInvalid) -> Status[dict[str, Any]]:
    """Every problem of a body, in the API's one error shape."""
    detail = [{"loc": list(e.loc), "msg": e.message, "type": exc.code} for e in exc.errors]
    return Status(exc.status, {"detail": detail})


# --- Reading ----------------------------------------------------------------------------------


@router.get(
    "/agreement",
    response={200: VersionOut, **_ERRORS},
    auth=TokenAuth("leads:read"),
    url_name="agreement_in_force",
    summary="The agreement in force",
    description="The version in force with its approvals and its body. Needs `leads:read`.",
)
def agreement_get(request: HttpRequest) -> VersionOut:
    return _version_out(_fresh(agreement_in_force().number))


@router.get(
    "/agreement/versions",
    response={200: list[VersionSummaryOut], **_ERRORS},
    auth=TokenAuth("leads:read"),
    url_name="agreement_versions",
    summary="Every version of the agreement",
    description="Newest first, without bodies: drafts, the one in force, superseded, withdrawn.",
)
def agreement_version_list(request: HttpRequest) -> list[VersionSummaryOut]:
    agreement_in_force()  # an installation without a version gets version 1
    return [VersionSummaryOut(**_summary_fields(v)) for v in agreement_versions()]


@router.get(
    "/agreement/versions/{number}",
    response={200: VersionWithDiffOut, 404: ErrorOut, **_ERRORS},
    auth=TokenAuth("leads:read"),
    url_name="agreement_version",
    summary="One version, with what changed",
    description=(
        "The version with its body and `diff`: the changes against the version before it (for "
        "a draft: the version in force), per section, as sentences."
    ),
)
def agreement_version_detail(request: HttpRequest, number: int) -> VersionWithDiffOut:
    version = agreement_version_get(number=number)
    diff = agreement_diff(old=agreement_predecessor(version), new=version)
    return VersionWithDiffOut(**_version_out(version).model_dump(), diff=_diff_out(diff))


# --- Writing ----------------------------------------------------------------------------------


class DraftIn(Schema):
    title: str = Field(max_length=200)
    preamble: str | None = Field(None, description="Left out: the base version's preamble.")
    body: dict[str, Any] | None = Field(
        None,
        description=(
            "The whole body (the shape of `body` in GET /agreement); left out: a copy of the "
            "base version's body."
        ),
    )
    based_on: int | None = Field(
        None, description="The number of the version to start from (default: the one in force)."
    )


class DraftChangeIn(Schema):
    title: str | None = Field(None, max_length=200)
    preamble: str | None = None
    body: dict[str, Any] | None = None


class ApproveIn(Schema):
    side: Literal["marketing", "sales"] | None = Field(
        None,
        description="Needed for a revenue leader or an admin; others approve their role's side.",
    )
    note: str = Field("", max_length=500)


@router.post(
    "/agreement/drafts",
    response={201: VersionOut, **_WRITE_ERRORS},
    auth=TokenAuth("agreement:write"),
    url_name="agreement_draft_create",
    summary="Draft a new version",
    description=(
        "A new draft (the next number). Every problem of the body is answered at once, each "
        'with its `loc` ("body", ...) and a message naming the field. Marketing ops or admin.'
    ),
)
def agreement_draft_post(request: HttpRequest, payload: DraftIn) -> Any:
    based_on_id = (
        agreement_version_get(number=payload.based_on).pk if payload.based_on is not None else None
    )
    try:
        draft = agreement_draft_create(
            actor=_actor(request),
            title=payload.title,
            preamble=payload.preamble,
            body=payload.body,
            based_on_id=based_on_id,
        )
    except AgreementInvalid as exc:
        return _invalid(exc)
    return Status(201, _version_out(_fresh(draft.number)))


@router.patch(
    "/agreement/versions/{number}",
    response={200: VersionOut, **_WRITE_ERRORS},
    auth=TokenAuth("agreement:write"),
    url_name="agreement_draft_update",
    summary="Change a draft",
    description="Title, preamble or body of a draft nobody approved yet (409 otherwise).",
)
def agreement_draft_patch(request: HttpRequest, number: int, payload: DraftChangeIn) -> Any:
    version = agreement_version_get(number=number)
    try:
        agreement_draft_update(
            version_id=version.pk,
            actor=_actor(request),
            title=payload.title,
            preamble=payload.preamble,
            body=payload.body,
        )
    except AgreementInvalid as exc:
        return _invalid(exc)
    return Status(200, _version_out(_fresh(number)))


@router.post(
    "/agreement/versions/{number}/approve",
    response={200: VersionOut, **_WRITE_ERRORS},
    auth=TokenAuth("agreement:write"),
    url_name="agreement_approve",
    summary="Approve a draft for one side",
    description=(
        "Records the approval of the token's user for their side. When both sides have "
        "approved, the version is in force at once (`status` in_force) and the one before it "
        "superseded. One person never approves both sides; a sales rep cannot approve."
    ),
)
def agreement_approve_post(request: HttpRequest, number: int, payload: ApproveIn) -> Any:
    version = agreement_version_get(number=number)
    try:
        agreement_approve(
            version_id=version.pk, actor=_actor(request), side=payload.side, note=payload.note
        )
    except AgreementInvalid as exc:
        return _invalid(exc)
    return Status(200, _version_out(_fresh(number)))


@router.post(
    "/agreement/versions/{number}/withdraw",
    response={200: VersionOut, **_WRITE_ERRORS},
    auth=TokenAuth("agreement:write"),
    url_name="agreement_withdraw",
    summary="Withdraw a draft",
    description="The draft never takes effect. Marketing ops or admin.",
)
def agreement_withdraw_post(request: HttpRequest, number: int) -> Any:
    version = agreement_version_get(number=number)
    agreement_withdraw(version_id=version.pk, actor=_actor(request))
    return Status(200, _version_out(_fresh(number)))

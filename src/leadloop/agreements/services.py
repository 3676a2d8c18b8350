"""Use cases of the agreement: draft it, change the draft, approve it (both sides), withdraw.

    agreement_draft_create ─▶ draft ◀─ agreement_draft_update (until the first approval)
    draft ─agreement_approve (one side)─▶ draft, frozen
          ─agreement_approve (other side)─▶ in force at once:
                the version in force before ─▶ superseded
                the queues it names ─▶ ensured (accounts.services.team_queue)
                its score thresholds ─▶ scoring (every lead rescored after commit)
    draft ─agreement_withdraw─▶ withdrawn

Who approves: the marketing side is marketing ops (the marketing lead), the sales side a
sales manager; a revenue leader or an admin may approve either side and says which. One
person never approves both sides of a version.

    LeadloopError
      AgreementInvalid       400  the body: a field is wrong (loc ("body", ...)); all errors kept
      PermissionDenied       403  the actor's role may not do this
      AgreementFrozen        409  the version is approved, in force or closed
      ApprovalRefused        409  the side is approved already, or by the same person
      AgreementStale         409  another version took effect after this draft was made
      NotFound               404  no such version
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from leadloop.accounts.models import Role, TeamKind, User
from leadloop.accounts.services import team_queue
from leadloop.agreements.models import (
    AgreementApproval,
    AgreementStatus,
    AgreementVersion,
    ApprovalSide,
)
from leadloop.agreements.schema import AgreementBody
from leadloop.agreements.selectors import agreement_in_force
from leadloop.agreements.validation import AgreementInvalid, agreement_body_validate
from leadloop.common.cache import process_caches_clear
from leadloop.common.errors import Conflict, NotFound, PermissionDenied
from leadloop.scoring.services import qualify_thresholds_set

# The side each role approves; None: either side, named by the approver.
APPROVER_SIDE: Final[dict[str, ApprovalSide | None]] = {
    Role.MARKETING_OPS: ApprovalSide.MARKETING,
    Role.SALES_MANAGER: ApprovalSide.SALES,
    Role.REVENUE_LEADER: None,
    Role.ADMIN: None,
}
# Who drafts and changes versions.
DRAFTERS: Final = frozenset({Role.MARKETING_OPS, Role.ADMIN})


# --- Errors -------------------------------------------------------------------------------------


class AgreementFrozen(Conflict):
    code = "agreement_frozen"


class ApprovalRefused(Conflict):
    code = "approval_refused"


class AgreementStale(Conflict):
    code = "agreement_stale"


class ApproverRoleRefused(PermissionDenied):
    code = "approver_role_refused"


# --- Drafts ------------------------------------------------------------------------------------


def _may_draft(actor: User) -> None:
    if not may_draft(actor):
        raise PermissionDenied(
            f"A {actor.get_role_display().lower()} cannot draft the agreement: marketing ops "
            "(or an admin) drafts it, both teams approve it.",
            loc=("actor",),
        )


def _locked(version_id: int) -> AgreementVersion:
    version = AgreementVersion.objects.select_for_update().filter(pk=version_id).first()
    if version is None:
        raise NotFound(f"There is no agreement version with id {version_id}.", loc=("version",))
    return version


def _next_number() -> int:
    return (AgreementVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1


@transaction.atomic
def agreement_draft_create(
    *,
    actor: User,
    title: str,
    preamble: str | None = None,
    body: Mapping[str, Any] | None = None,
    based_on_id: int | None = None,
) -> AgreementVersion:
    """A new draft version (the next number), based on `based_on_id` (default: the version in
    force), whose body and preamble are the ones given or, when omitted, copies of the base's.
    Raises AgreementInvalid, PermissionDenied (not marketing ops or admin), NotFound."""
    _may_draft(actor)
    base = (
        agreement_in_force().version
        if based_on_id is None
        else AgreementVersion.objects.filter(pk=based_on_id).first()
    )
    if base is None:
        raise NotFound(f"There is no agreement version with id {based_on_id}.", loc=("based_on",))
    chosen = base.body if body is None else body
    parsed = agreement_body_validate(body=chosen)
    clean_title = _title(title)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return AgreementVersion.objects.create(
                    number=_next_number(),
                    title=clean_title,
                    preamble=(base.preamble if preamble is None else preamble).strip(),
                    body=parsed.model_dump(mode="json"),
                    status=AgreementStatus.DRAFT,
                    based_on=base,
                    created_by=actor,
                )
        except IntegrityError:
            continue  # another draft took the number at the same moment
    raise Conflict("Another version was created at the same time; try again.", loc=("number",))


def _title(title: str) -> str:
    clean = " ".join(title.split())
    if not clean:
        raise AgreementInvalid("Title: give the version a title.", loc=("title",))
    if len(clean) > 200:
        raise AgreementInvalid(
            f"Title: at most 200 characters; this one has {len(clean)}.", loc=("title",)
        )
    return clean


def _frozen_because(version: AgreementVersion) -> str | None:
    if version.status != AgreementStatus.DRAFT:
        return f"version {version.number} is {version.get_status_display().lower()}"
    approval = version.approvals.select_related("user").first()
    if approval is not None:
        return (
            f"version {version.number} has the {approval.get_side_display().lower()} approval "
            f"of {approval.user}"
        )
    return None


@transaction.atomic
def agreement_draft_update(
    *,
    version_id: int,
    actor: User,
    title: str | None = None,
    preamble: str | None = None,
    body: Mapping[str, Any] | None = None,
) -> AgreementVersion:
    """Change a draft nobody approved yet (title, preamble, body; None keeps a value). Raises
    AgreementFrozen (approved, in force or closed), AgreementInvalid, PermissionDenied."""
    _may_draft(actor)
    version = _locked(version_id)
    why = _frozen_because(version)
    if why is not None:
        raise AgreementFrozen(
            f"Version {version.number} can no longer change: {why}. "
            "Start a new draft from the version in force instead.",
            loc=("version",),
        )
    fields = ["updated_at"]
    if title is not None:
        version.title = _title(title)
        fields.append("title")
    if preamble is not None:
        version.preamble = preamble.strip()
        fields.append("preamble")
    if body is not None:
        version.body = agreement_body_validate(body=body).model_dump(mode="json")
        fields.append("body")
    version.save(update_fields=fields)
    return version


@transaction.atomic
def agreement_withdraw(*, version_id: int, actor: User) -> AgreementVersion:
    """Withdraw a draft (approved by one side or not): it never takes effect. Raises
    AgreementFrozen for a version that is not a draft, PermissionDenied."""
    _may_draft(actor)
    version = _locked(version_id)
    if version.status != AgreementStatus.DRAFT:
        raise AgreementFrozen(
            f"Only a draft can be withdrawn; version {version.number} is "
            f"{version.get_status_display().lower()}.",
            loc=("version",),
        )
    version.status = AgreementStatus.WITHDRAWN
    version.save(update_fields=["status", "updated_at"])
    return version


# --- Approval ----------------------------------------------------------------------------------


def approver_side(actor: User, side: ApprovalSide | str | None) -> ApprovalSide:
    """The side `actor` approves for: their role's, or (revenue leader, admin) the one they
    name. Raises ApproverRoleRefused, AgreementInvalid (side missing or unknown)."""
    role = Role.ADMIN if actor.is_superuser and actor.role not in APPROVER_SIDE else actor.role
    if role not in APPROVER_SIDE:
        raise ApproverRoleRefused(
            f"A {actor.get_role_display().lower()} cannot approve the agreement: marketing ops "
            "approves for marketing, a sales manager for sales (a revenue leader or an admin "
            "for either).",
            loc=("actor",),
        )
    if side is not None and side not in ApprovalSide.values:
        raise AgreementInvalid(
            f"Side: {side!r} is not a side; use marketing or sales.", loc=("side",)
        )
    own = APPROVER_SIDE[role]
    if own is None:
        if side is None:
            raise AgreementInvalid(
                f"Side: a {actor.get_role_display().lower()} approves for either team; "
                "say which: marketing or sales.",
                loc=("side",),
            )
        return ApprovalSide(side)
    if side is not None and side != own:
        raise ApproverRoleRefused(
            f"A {actor.get_role_display().lower()} approves for {own.label.lower()}, "
            f"not for {ApprovalSide(side).label.lower()}.",
            loc=("side",),
        )
    return own


def approval_sides_open(*, version: AgreementVersion, actor: User) -> list[ApprovalSide]:
    """The sides `actor` may approve on `version` now (for the buttons a page shows; the
    approval itself checks again): a draft's unapproved sides their role covers, unless they
    approved the other side."""
    if version.status != AgreementStatus.DRAFT:
        return []
    role = Role.ADMIN if actor.is_superuser and actor.role not in APPROVER_SIDE else actor.role
    if role not in APPROVER_SIDE:
        return []
    approvals = list(version.approvals.all())
    if any(a.user_id == actor.pk for a in approvals):
        return []
    own = APPROVER_SIDE[role]
    done = {a.side for a in approvals}
    return [s for s in ApprovalSide if s not in done and own in (None, s)]


def may_draft(actor: User) -> bool:
    """Whether `actor` drafts and changes versions (marketing ops, admin)."""
    return actor.role in DRAFTERS or actor.is_superuser


@transaction.atomic
def agreement_approve(
    *,
    version_id: int,
    actor: User,
    side: ApprovalSide | str | None = None,
    note: str = "",
) -> AgreementVersion:
    """Record `actor`'s approval of a draft for their side. When both sides have approved,
    the version takes effect at once (see the module docstring). Returns the version.
    Raises ApproverRoleRefused, ApprovalRefused, AgreementFrozen, AgreementStale,
    AgreementInvalid, NotFound."""
    chosen = approver_side(actor, side)
    version = _locked(version_id)
    if version.status != AgreementStatus.DRAFT:
        raise AgreementFrozen(
            f"Version {version.number} is {version.get_status_display().lower()}; "
            "only a draft is approved.",
            loc=("version",),
        )
    approvals = {a.side: a for a in version.approvals.select_related("user")}
    if chosen in approvals:
        by = approvals[chosen]
        raise ApprovalRefused(
            f"The {chosen.label.lower()} side of version {version.number} was approved "
            f"already, by {by.user} on {by.at:%Y-%m-%d}.",
            loc=("side",),
        )
    other = next((a for s, a in approvals.items() if s != chosen), None)
    if other is not None and other.user_id == actor.pk:
        raise ApprovalRefused(
            f"{actor} approved version {version.number} for {other.get_side_display().lower()}; "
            f"the {chosen.label.lower()} side needs another person.",
            loc=("side",),
        )
    parsed = agreement_body_validate(body=version.body)  # teams or people may have gone since
    _check_not_stale(version)
    AgreementApproval.objects.create(
        version=version, side=chosen, user=actor, note=note.strip()[:500], at=timezone.now()
    )
    if other is not None:
        _take_effect(version, parsed)
    return version


def _check_not_stale(version: AgreementVersion) -> None:
    """Refuse a draft made before another version took effect: it would undo that change."""
    current = AgreementVersion.objects.filter(status=AgreementStatus.IN_FORCE).first()
    if (
        current is not None
        and current.pk != version.based_on_id
        and current.effective_at is not None
        and current.effective_at > version.created_at
    ):
        raise AgreementStale(
            f"Version {current.number} took effect after draft {version.number} was made; "
            f"withdraw this draft and start a new one from version {current.number}.",
            loc=("version",),
        )


def _take_effect(version: AgreementVersion, parsed: AgreementBody) -> None:
    now = timezone.now()
    # Supersede first: at most one version is in force (a unique constraint).
    AgreementVersion.objects.select_for_update().filter(status=AgreementStatus.IN_FORCE).update(
        status=AgreementStatus.SUPERSEDED, superseded_at=now, updated_at=now
    )
    version.status, version.effective_at = AgreementStatus.IN_FORCE, now
    version.save(update_fields=["status", "effective_at", "updated_at"])
    team_queue(name=parsed.routing.marketing_queue.strip(), kind=TeamKind.MARKETING)
    team_queue(name=parsed.routing.fallback_queue.strip(), kind=TeamKind.SALES)
    qualify_thresholds_set(
        groups=[g.model_dump(exclude_none=True, mode="json") for g in parsed.qualification.groups],
        agreement_version=version.number,
    )
    # This process sees the new version at once, others within the cache's few seconds. (A
    # read later in this same transaction caches it; should the transaction roll back, that
    # process records this version number for at most those seconds.)
    process_caches_clear()
    transaction.on_commit(process_caches_clear)

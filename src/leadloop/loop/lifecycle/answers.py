"""Sales' answers: accept, reject with a reason, lose with a reason, win; moves by hand; the
reason's action in the agreement and the lead's return to the marketing queue.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from leadloop.accounts.models import User
from leadloop.agreements.schema import Reason
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.common.errors import LeadloopError
from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import lead_requalify_hold
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.permissions import SALES_STAGES
from leadloop.lifecycle.services import ALLOWED, TransitionNotAllowed, lead_transition
from leadloop.loop.lifecycle.handoff import lead_qualify
from leadloop.loop.lifecycle.record import move_permitted, owner_assigned, stage_changed
from leadloop.loop.owners import marketing_queue
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.routing.services import lead_queue_set

_REASON_STAGE = {
    "nurture": Stage.NURTURE,
    "recycle": Stage.NURTURE,
    "disqualify": Stage.DISQUALIFIED,
    "merge_duplicate": Stage.DISQUALIFIED,
}


class ReasonUnknown(LeadloopError):
    code = "reason_unknown"


class DuplicateOfRequired(LeadloopError):
    code = "duplicate_of_required"


def _reason(agreement: AgreementInForce, *, kind: str, code: str) -> Reason:
    found = agreement.body.reason(kind, code)  # type: ignore[arg-type]
    if found is None:
        known = ", ".join(r.code for r in agreement.body.reasons if r.kind == kind)
        raise ReasonUnknown(
            f"{code!r} is not a {kind} reason of agreement v{agreement.number}; use one of: "
            f"{known}.",
            loc=("reason",),
        )
    return found


@transaction.atomic
def lead_move(
    *,
    lead_id: int,
    to: Stage,
    actor: User | None,
    reason: str = "",
    note: str = "",
    duplicate_of: int | None = None,
) -> StageChange:
    """Move a lead by hand (UI, API), with permission checks; the one entry point of manual moves.

    Into MQL: ``lead_qualify``. Out of a sales stage into nurture or disqualified: the reason
    (reject reasons from MQL and SAL, lost reasons from SQL and opportunity) decides the
    target as the agreement says. Any other allowed move: one transition. Raises
    TransitionNotAllowed, ReasonRequired, ReasonUnknown, PermissionDenied.
    """
    if to == Stage.MQL:
        return lead_qualify(lead_id=lead_id, actor=actor, rule="", note=note)
    lead = move_permitted(actor, lead_id, to)
    current = Stage(lead.stage)
    if to not in ALLOWED[current]:
        raise TransitionNotAllowed(lead=lead, to=to)
    if current in SALES_STAGES and to in (Stage.NURTURE, Stage.DISQUALIFIED):
        kind = "reject" if current in (Stage.MQL, Stage.SAL) else "lost"
        return _answer(
            lead=lead,
            kind=kind,
            reason=reason,
            note=note,
            actor=actor,
            duplicate_of=duplicate_of,
            expected=to,
        )
    agreement = agreement_in_force()
    if to == Stage.DISQUALIFIED and reason:
        # Marketing disqualifies with the catalogue's words too (spam, student, bad fit...).
        found = _reason(agreement, kind="reject", code=reason)
        if _REASON_STAGE[found.action] != Stage.DISQUALIFIED:
            raise ReasonUnknown(
                f"The reason {found.label!r} sends a lead to "
                f"{_REASON_STAGE[found.action].label}, not {Stage.DISQUALIFIED.label}.",
                loc=("reason",),
            )
    change = stage_changed(
        lead_transition(
            lead_id=lead_id,
            to=to,
            actor=actor,
            reason=reason,
            note=note,
            agreement_version=agreement.number,
        ),
        agreement,
    )
    if to in (Stage.NURTURE, Stage.DISQUALIFIED) and lead.owner_id is not None:
        _return_to_marketing(lead_id, agreement, actor, why=f"Moved to {to.label}")
    return change


def lead_accept(*, lead_id: int, actor: User | None, note: str = "") -> StageChange:
    """The owner accepts an MQL: it becomes a sales accepted lead (SAL)."""
    return lead_move(lead_id=lead_id, to=Stage.SAL, actor=actor, note=note)


def lead_reject(
    *,
    lead_id: int,
    actor: User | None,
    reason: str,
    note: str = "",
    duplicate_of: int | None = None,
) -> StageChange:
    """The owner rejects an MQL or SAL with a reject reason; the reason's action follows."""
    lead = move_permitted(actor, lead_id, Stage.NURTURE)
    if lead.stage not in (Stage.MQL, Stage.SAL):
        raise TransitionNotAllowed(lead=lead, to=Stage.NURTURE)
    return _answer(
        lead=lead, kind="reject", reason=reason, note=note, actor=actor, duplicate_of=duplicate_of
    )


def lead_lose(*, lead_id: int, actor: User | None, reason: str, note: str = "") -> StageChange:
    """An SQL or opportunity is lost with a lost reason; the reason's action follows."""
    lead = move_permitted(actor, lead_id, Stage.NURTURE)
    if lead.stage not in (Stage.SQL, Stage.OPPORTUNITY):
        raise TransitionNotAllowed(lead=lead, to=Stage.NURTURE)
    return _answer(lead=lead, kind="lost", reason=reason, note=note, actor=actor, duplicate_of=None)


def lead_win(*, lead_id: int, actor: User | None, note: str = "") -> StageChange:
    """An opportunity is won: the lead becomes a customer."""
    return lead_move(lead_id=lead_id, to=Stage.CUSTOMER, actor=actor, note=note)


@transaction.atomic
def _answer(
    *,
    lead: Lead,
    kind: str,
    reason: str,
    note: str,
    actor: User | None,
    duplicate_of: int | None,
    expected: Stage | None = None,
) -> StageChange:
    agreement = agreement_in_force()
    if not reason:
        from leadloop.lifecycle.services import ReasonRequired

        raise ReasonRequired(from_stage=Stage(lead.stage), to=expected or Stage.NURTURE)
    found = _reason(agreement, kind=kind, code=reason)
    to = _REASON_STAGE[found.action]
    if expected is not None and expected != to:
        raise ReasonUnknown(
            f"The reason {found.label!r} sends a lead to {to.label}, not {expected.label}.",
            loc=("reason",),
        )
    if found.action == "merge_duplicate":
        _duplicate_of_check(lead, duplicate_of)
    change = stage_changed(
        lead_transition(
            lead_id=lead.pk,
            to=to,
            actor=actor,
            reason=found.code,
            note=note,
            agreement_version=agreement.number,
        ),
        agreement,
    )
    if found.action == "recycle" and found.recycle_days:
        lead_requalify_hold(lead_id=lead.pk, until=change.at + timedelta(days=found.recycle_days))
    _return_to_marketing(
        lead.pk,
        agreement,
        actor,
        why=f"{'Rejected' if kind == 'reject' else 'Lost'}: {found.label}",
    )
    if found.action == "merge_duplicate" and duplicate_of is not None:
        from leadloop.loop.merge import lead_merge

        lead_merge(survivor_id=duplicate_of, duplicate_id=lead.pk, actor=actor)
    return change


def _duplicate_of_check(lead: Lead, duplicate_of: int | None) -> None:
    if duplicate_of is None:
        raise DuplicateOfRequired(
            "A lead rejected as a duplicate needs the lead it duplicates.", loc=("duplicate_of",)
        )
    if duplicate_of == lead.pk:
        raise DuplicateOfRequired(
            "A lead cannot duplicate itself: name the other lead.", loc=("duplicate_of",)
        )
    if not Lead.objects.filter(pk=duplicate_of).exists():
        raise DuplicateOfRequired(f"No lead with id {duplicate_of}.", loc=("duplicate_of",))


def _return_to_marketing(
    lead_id: int, agreement: AgreementInForce, actor: User | None, *, why: str
) -> Assignment:
    return owner_assigned(
        lead_queue_set(
            lead_id=lead_id,
            queue=marketing_queue(agreement),
            kind=AssignmentKind.RETURNED,
            why=why,
            actor=actor,
            agreement_version=agreement.number,
        ),
        agreement,
    )

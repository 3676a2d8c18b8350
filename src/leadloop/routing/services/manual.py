"""Owners set by hand: a manager's reassignment, a queue (back to marketing, escalation)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from leadloop.accounts.models import Team, User
from leadloop.common.errors import Conflict, NotFound, PermissionDenied
from leadloop.leads.models import Lead
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.routing.selectors import SALES_ROLES, reassign_refusal, reassign_target_refusal
from leadloop.routing.services.record import AssignmentInvalid, assignment_record


class AssignmentUnchanged(Conflict):
    code = "assignment_unchanged"


class ReassignNotAllowed(PermissionDenied):
    code = "reassign_not_allowed"


def _lead_locked(lead_id: int) -> Lead:
    """The lead with its owner (for the permission checks), its row locked until commit."""
    lead = (
        Lead.objects.select_related("owner", "queue")
        .select_for_update(of=("self",))
        .filter(pk=lead_id)
        .first()
    )
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.", loc=("lead_id",))
    return lead


@transaction.atomic
def lead_assign(
    *,
    lead_id: int,
    actor: User,
    assignee: User | None = None,
    queue: Team | None = None,
    why: str,
    agreement_version: int | None,
) -> Assignment:
    """A person reassigns a lead by hand to `assignee` or to `queue` (one of them), saying why.

    Sales managers reassign within their team; revenue leaders and admins anywhere. Raises
    AssignmentInvalid (no target, both, no why, a target that cannot own leads),
    ReassignNotAllowed (naming the role or the team), AssignmentUnchanged, NotFound.
    """
    if (assignee is None) == (queue is None):
        raise AssignmentInvalid(
            "Choose either a person or a queue to hand the lead to.", loc=("assignee",)
        )
    reason = why.strip()
    if not reason:
        raise AssignmentInvalid("Say why the lead is reassigned.", loc=("why",))
    lead = _lead_locked(lead_id)
    refusal = reassign_refusal(actor=actor, lead=lead)
    if refusal is not None:
        raise ReassignNotAllowed(refusal, loc=("lead_id",))
    if assignee is not None and (not assignee.is_active or assignee.role not in SALES_ROLES):
        raise AssignmentInvalid(
            f"{assignee} ({assignee.username}) cannot own leads: choose an active sales rep "
            "or sales manager.",
            loc=("assignee",),
        )
    target = reassign_target_refusal(actor=actor, assignee=assignee, queue=queue)
    if target is not None:
        field, message = target
        raise ReassignNotAllowed(message, loc=(field,))
    if assignee is not None and lead.owner_id == assignee.pk:
        raise AssignmentUnchanged(f"Lead {lead.pk} is already {assignee}'s.", loc=("assignee",))
    if queue is not None and lead.owner_id is None and lead.queue_id == queue.pk:
        raise AssignmentUnchanged(
            f"Lead {lead.pk} is already in the {queue} queue.", loc=("queue",)
        )
    return assignment_record(
        lead,
        kind=AssignmentKind.MANUAL,
        assignee_id=assignee.pk if assignee else None,
        queue_id=queue.pk if queue else None,
        why=reason,
        agreement_version=agreement_version,
        actor_id=actor.pk,
        at=timezone.now(),
    )


@transaction.atomic
def lead_queue_set(
    *,
    lead_id: int,
    queue: Team,
    kind: AssignmentKind,
    why: str,
    actor: User | None = None,
    agreement_version: int | None = None,
    at: datetime | None = None,
) -> Assignment:
    """Give the lead to a team queue (no person owns it then): back to marketing (kind
    returned), at an SLA breach (escalation). Recorded even when it sat there already."""
    lead = _lead_locked(lead_id)
    return assignment_record(
        lead,
        kind=kind,
        queue_id=queue.pk,
        why=why.strip(),
        agreement_version=agreement_version,
        actor_id=actor.pk if actor else None,
        at=at or timezone.now(),
    )

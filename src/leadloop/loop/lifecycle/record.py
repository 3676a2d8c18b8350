"""What follows every stage change and every change of owner (SLA clocks, webhooks), and
the permission check of a move by hand.
"""

from __future__ import annotations

from leadloop.accounts.models import User
from leadloop.agreements.selectors import AgreementInForce
from leadloop.common.errors import NotFound, PermissionDenied
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.permissions import move_refusal
from leadloop.routing.models import Assignment
from leadloop.sla.services import clocks_on_assignment, clocks_on_stage_change
from leadloop.webhooks.services import webhook_lead_assigned_emit, webhook_stage_changed_emit


def stage_changed(change: StageChange, agreement: AgreementInForce | None = None) -> StageChange:
    """What follows every stage change: the SLA clocks of the stage left stop (and SAL's
    start); the webhooks are told (in the change's transaction; sent after commit)."""
    clocks_on_stage_change(change_id=change.pk, agreement=agreement)
    webhook_stage_changed_emit(change=change)
    return change


def owner_assigned(assignment: Assignment, agreement: AgreementInForce | None = None) -> Assignment:
    """What follows every change of owner: the new owner's SLA clocks start (the old owner's
    stop, as breached when late); the webhooks are told."""
    clocks_on_assignment(assignment_id=assignment.pk, agreement=agreement)
    webhook_lead_assigned_emit(assignment=assignment)
    return assignment


def move_permitted(actor: User | None, lead_id: int, to: Stage) -> Lead:
    lead = Lead.objects.select_related("owner", "queue").filter(pk=lead_id).first()
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.", loc=("lead_id",))
    if actor is not None:
        refusal = move_refusal(actor, lead, to)
        if refusal:
            raise PermissionDenied(refusal, loc=("stage",))
    return lead

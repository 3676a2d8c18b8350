"""Qualification and hand-off: an MQL made, routed at once or left for the batched hand-off;
a manager's reassignment.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from django.db import transaction
from django.utils import timezone

from leadloop.accounts.models import Team, User
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import lead_requalify_hold
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import lead_transition
from leadloop.loop.lifecycle.record import move_permitted, owner_assigned, stage_changed
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.routing.services import RoutingContended, handoff_deliver, lead_assign, lead_route


@transaction.atomic
def lead_qualify(
    *,
    lead_id: int,
    actor: User | None,
    rule: str = "score thresholds",
    note: str = "",
    agreement: AgreementInForce | None = None,
    at: datetime | None = None,
    route_after_commit: bool = False,
) -> StageChange:
    """Make a lead an MQL under the agreement in force; hand it off as the agreement says.

    `actor` None is the system (a threshold or a hand-raiser: `rule` says which); a person
    promotes by hand and must be allowed to. Instant hand-off routes the lead in the same
    transaction, so an MQL is never seen without its rep; `route_after_commit` (a batch that
    qualifies many leads in one transaction: routing them there would hold rules' cursors and
    reps' counters across the batch) routes it after commit in a task instead, as does a
    routing whose counters another worker is filling at that moment. Batched hand-off leaves
    it in the marketing queue until the hand-off is due. Raises TransitionNotAllowed,
    PermissionDenied.
    """
    agreement = agreement or agreement_in_force()
    move_permitted(actor, lead_id, Stage.MQL)
    change = stage_changed(
        lead_transition(
            lead_id=lead_id,
            to=Stage.MQL,
            actor=actor,
            rule=rule,
            note=note,
            agreement_version=agreement.number,
            at=at,
        ),
        agreement,
    )
    lead_requalify_hold(lead_id=lead_id, until=None)
    if agreement.body.handoff.mode != "instant":
        return change
    if not route_after_commit:
        try:
            # One attempt without a savepoint: a failed one writes nothing, and waiting for
            # counters while holding this lead and a cursor is what the task does better.
            assignment = lead_route(
                lead_id=lead_id,
                agreement=agreement,
                stage_change_id=change.pk,
                savepoint=False,
                attempts=1,
                lead=change.lead,  # as the transition locked and read it
                at=at,
            )
        except RoutingContended:
            pass
        else:
            owner_assigned(assignment, agreement)
            return change
    from leadloop.loop.tasks import route_qualified

    transaction.on_commit(partial(route_qualified.enqueue, change_id=change.pk))
    return change


@transaction.atomic
def lead_route_qualified(*, change_id: int) -> Assignment | None:
    """Route the MQL that StageChange `change_id` made, once (a second call returns the first
    assignment). None when the lead has moved on since: a later answer owns it now."""
    change = StageChange.objects.filter(pk=change_id).first()
    if change is None:
        return None
    existing = Assignment.objects.filter(stage_change_id=change_id).first()
    if existing is not None:
        return existing
    lead = Lead.objects.filter(pk=change.lead_id).values("stage", "cycle").first()
    if lead is None or lead["stage"] != Stage.MQL or lead["cycle"] != change.cycle:
        return None
    agreement = agreement_in_force()
    assignment = lead_route(lead_id=change.lead_id, agreement=agreement, stage_change_id=change_id)
    return (
        owner_assigned(assignment, agreement)
        if assignment.stage_change_id == change_id
        else assignment
    )


def handoff_deliver_now(*, now: datetime | None = None) -> int:
    """Deliver the batched hand-off when it is due (``routing.handoff_deliver``, once per due
    time), then start the SLA clocks of every lead it routed and tell the webhooks. Returns
    how many leads it routed."""
    batch = handoff_deliver(now=now or timezone.now(), agreement=agreement_in_force())
    if batch is None or batch.claimed_at is None:
        return 0
    routed = Assignment.objects.filter(
        at=batch.claimed_at, stage_change__isnull=False, kind=AssignmentKind.ROUTED
    ).order_by("pk")
    for assignment in routed:
        with transaction.atomic():
            owner_assigned(assignment)
    return batch.delivered


@transaction.atomic
def lead_reassign(
    *,
    lead_id: int,
    actor: User,
    assignee: User | None = None,
    queue: Team | None = None,
    why: str,
) -> Assignment:
    """A manager hands a lead to another person or queue (``routing.lead_assign``, with its
    permission checks) under the agreement in force; the old owner's SLA clocks stop (as
    breached when already late), the new owner's start, and the webhooks are told."""
    agreement = agreement_in_force()
    assignment = lead_assign(
        lead_id=lead_id,
        actor=actor,
        assignee=assignee,
        queue=queue,
        why=why,
        agreement_version=agreement.number,
    )
    return owner_assigned(assignment, agreement)

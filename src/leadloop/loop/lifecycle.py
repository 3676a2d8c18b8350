"""The lifecycle use cases, read top to bottom: qualify, hand off, answer, win or lose.

    a touch or a score ──qualifies under the agreement──▶ lead_qualify ─▶ MQL (marketing queue)
        └─ hand-off instant: routed in the same transaction ─▶ a rep (or the fallback queue);
           from a batch of touches, or when reps' counters are contended: after commit, by
           the task lead_route_qualified
        └─ hand-off batched: waits in the marketing queue for routing.handoff_deliver
    rep: lead_accept ─▶ SAL ─▶ SQL ─▶ opportunity ─▶ lead_win ─▶ customer
    rep: lead_reject(reason) / lead_lose(reason) ─▶ the reason's action in the agreement:
         nurture | recycle (held back N days) | disqualify | merge as duplicate
         ─▶ the lead goes back to the marketing queue (an Assignment of kind "returned")
    nurture: new engagement that qualifies again (after any recycle hold) ─▶ MQL, a new cycle

Every step records the agreement version it applied (StageChange.agreement_version,
Assignment.agreement_version) and is sent to the webhooks. ``lead_transition`` writes stages;
routing writes owners; this module decides which to call, in which order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from leadloop.accounts.models import OutOfOffice, Team, User
from leadloop.agreements.schema import Reason
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.capture.models import Touch
from leadloop.common.errors import LeadloopError, NotFound, PermissionDenied
from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import lead_requalify_hold
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.permissions import SALES_STAGES, move_refusal
from leadloop.lifecycle.services import ALLOWED, TransitionNotAllowed, lead_transition
from leadloop.loop.owners import marketing_queue
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.routing.services import (
    RoutingContended,
    handoff_deliver,
    lead_assign,
    lead_queue_set,
    lead_route,
)
from leadloop.routing.services import out_of_office_end as routing_out_of_office_end
from leadloop.routing.services import out_of_office_set as routing_out_of_office_set
from leadloop.scoring.models import LeadScore
from leadloop.sla.services import (
    clocks_on_assignment,
    clocks_on_out_of_office,
    clocks_on_stage_change,
)
from leadloop.webhooks.services import webhook_lead_assigned_emit, webhook_stage_changed_emit

# Stages from which a lead qualifies by itself (nurture: only with new engagement).
QUALIFYING_STAGES = frozenset({Stage.SUBSCRIBER, Stage.LEAD, Stage.NURTURE})
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


# --- Recording ----------------------------------------------------------------------------------


def _changed(change: StageChange, agreement: AgreementInForce | None = None) -> StageChange:
    """What follows every stage change: the SLA clocks of the stage left stop (and SAL's
    start); the webhooks are told (in the change's transaction; sent after commit)."""
    clocks_on_stage_change(change_id=change.pk, agreement=agreement)
    webhook_stage_changed_emit(change=change)
    return change


def _assigned(assignment: Assignment, agreement: AgreementInForce | None = None) -> Assignment:
    """What follows every change of owner: the new owner's SLA clocks start (the old owner's
    stop, as breached when late); the webhooks are told."""
    clocks_on_assignment(assignment_id=assignment.pk, agreement=agreement)
    webhook_lead_assigned_emit(assignment=assignment)
    return assignment


def _permitted(actor: User | None, lead_id: int, to: Stage) -> Lead:
    lead = Lead.objects.select_related("owner", "queue").filter(pk=lead_id).first()
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.", loc=("lead_id",))
    if actor is not None:
        refusal = move_refusal(actor, lead, to)
        if refusal:
            raise PermissionDenied(refusal, loc=("stage",))
    return lead


# --- Qualification and hand-off -----------------------------------------------------------------


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
    _permitted(actor, lead_id, Stage.MQL)
    change = _changed(
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
            _assigned(assignment, agreement)
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
        _assigned(assignment, agreement) if assignment.stage_change_id == change_id else assignment
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
            _assigned(assignment)
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
    return _assigned(assignment, agreement)


# --- Automatic qualification --------------------------------------------------------------------


@dataclass(frozen=True)
class TouchFacts:
    kind: str
    form_slug: str = ""
    content_kind: str = ""


def hand_raiser(agreement: AgreementInForce, touch: TouchFacts) -> str | None:
    """The label of the agreement's hand-raiser trigger `touch` matches, or None."""
    for trigger in agreement.body.qualification.hand_raisers:
        if (
            (trigger.touch_kind and trigger.touch_kind == touch.kind)
            or (trigger.form_slug and trigger.form_slug == touch.form_slug)
            or (trigger.content_kind and trigger.content_kind == touch.content_kind)
        ):
            return trigger.label or trigger.touch_kind or trigger.form_slug or trigger.content_kind
    return None


def touch_facts(touch: Touch) -> TouchFacts:
    """What a hand-raiser trigger can match on a recorded touch (forms put their slug in the
    touch's properties)."""
    properties = touch.properties if isinstance(touch.properties, dict) else {}
    content_kind = touch.content_offer.kind if touch.content_offer is not None else ""
    return TouchFacts(
        kind=touch.kind, form_slug=str(properties.get("form", "")), content_kind=content_kind
    )


def _may_requalify(lead: Lead, score: LeadScore | None, now: datetime) -> bool:
    """A lead qualifies again by score when its scores meet the thresholds, it is in a stage
    that qualifies, and — coming from nurture — it engaged after entering nurture and any
    recycle hold is over."""
    if score is None or not score.qualifies or lead.stage not in QUALIFYING_STAGES:
        return False
    if lead.stage != Stage.NURTURE:
        return True
    if lead.requalify_after is not None and lead.requalify_after > now:
        return False
    entered = lead.nurture_last_at
    return entered is None or (score.last_touch_at is not None and score.last_touch_at > entered)


def lead_qualify_if_due(
    *,
    lead: Lead,
    score: LeadScore | None,
    touch: TouchFacts | None = None,
    agreement: AgreementInForce | None = None,
    now: datetime | None = None,
    route_after_commit: bool = False,
) -> StageChange | None:
    """Qualify `lead` when the agreement says so: at once on a hand-raiser touch, else when its
    scores meet the thresholds (see ``_may_requalify``). Returns the change, or None.
    `route_after_commit`: as ``lead_qualify``'s."""
    if lead.stage not in QUALIFYING_STAGES:
        return None
    agreement = agreement or agreement_in_force()
    trigger = hand_raiser(agreement, touch) if touch is not None else None
    if trigger is not None:
        rule = f"hand-raiser: {trigger}"
    elif _may_requalify(lead, score, now or timezone.now()):
        rule = "score thresholds" if lead.stage != Stage.NURTURE else "re-qualified from nurture"
    else:
        return None
    return lead_qualify(
        lead_id=lead.pk,
        actor=None,
        rule=rule,
        agreement=agreement,
        route_after_commit=route_after_commit,
    )


def leads_qualify_due(*, lead_ids: Iterable[int] | None = None, limit: int = 10_000) -> int:
    """Qualify every lead (of `lead_ids`, else all) whose scores meet the thresholds and that may
    qualify now; returns how many. The sweep after a rescore, an import, or periodically.
    Each lead is its own transaction, so a long sweep never holds the lead table."""
    now = timezone.now()
    agreement = agreement_in_force()
    candidates = (
        Lead.objects.filter(score__qualifies=True, stage__in=QUALIFYING_STAGES)
        .exclude(Q(stage=Stage.NURTURE) & Q(requalify_after__gt=now))
        .exclude(
            Q(stage=Stage.NURTURE)
            & Q(nurture_last_at__isnull=False)
            & (
                Q(score__last_touch_at__isnull=True)
                | Q(score__last_touch_at__lte=F("nurture_last_at"))
            )
        )
        .select_related("score")
        .order_by("pk")
    )
    if lead_ids is not None:
        candidates = candidates.filter(pk__in=list(lead_ids))
    done = 0
    for lead in candidates[:limit]:
        try:
            if lead_qualify_if_due(lead=lead, score=lead.score, agreement=agreement, now=now):
                done += 1
        except TransitionNotAllowed:
            continue  # moved meanwhile by someone else: their move stands
    return done


# --- Sales' answers -----------------------------------------------------------------------------


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
    lead = _permitted(actor, lead_id, to)
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
    change = _changed(
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
    lead = _permitted(actor, lead_id, Stage.NURTURE)
    if lead.stage not in (Stage.MQL, Stage.SAL):
        raise TransitionNotAllowed(lead=lead, to=Stage.NURTURE)
    return _answer(
        lead=lead, kind="reject", reason=reason, note=note, actor=actor, duplicate_of=duplicate_of
    )


def lead_lose(*, lead_id: int, actor: User | None, reason: str, note: str = "") -> StageChange:
    """An SQL or opportunity is lost with a lost reason; the reason's action follows."""
    lead = _permitted(actor, lead_id, Stage.NURTURE)
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
    change = _changed(
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
    return _assigned(
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


# --- Absences -------------------------------------------------------------------------------------


@transaction.atomic
def out_of_office_set(
    *, actor: User, user: User, starts_at: datetime, ends_at: datetime, note: str = ""
) -> OutOfOffice:
    """Record an absence (``routing.out_of_office_set``: routing skips the person), then move
    the due times of their running SLA clocks that pause while they are away."""
    absence = routing_out_of_office_set(
        actor=actor, user=user, starts_at=starts_at, ends_at=ends_at, note=note
    )
    clocks_on_out_of_office(user_id=user.pk)
    return absence


@transaction.atomic
def out_of_office_end(
    *, actor: User, out_of_office_id: int, at: datetime | None = None
) -> OutOfOffice:
    """End (or cancel) an absence (``routing.out_of_office_end``), then recompute the due times
    of the person's paused clocks."""
    absence = routing_out_of_office_end(actor=actor, out_of_office_id=out_of_office_id, at=at)
    clocks_on_out_of_office(user_id=absence.user_id)
    return absence

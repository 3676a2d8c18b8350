"""SLA clocks start, stop and restart from lifecycle events; marketing's delivery is evaluated
per period; notifications are read.

    assignment to a person ──▶ MQL: first_response (SAL: its running clocks restart)
    assignment to a sales queue ──▶ the same clocks, held by the team (``owner`` empty)
    assignment to the marketing queue ──▶ every running clock stops (cancelled, or breached)
    stage change MQL ─▶ SAL | nurture | disqualified ──▶ first_response stops (met or breached)
    stage change ─▶ SAL ──▶ contact_attempt (N business hours) and decision (N business days)
    touch outbound_call | sales_email | meeting ──▶ contact_attempt stops
    stage change SAL ─▶ SQL | nurture | disqualified ──▶ decision (and contact_attempt) stop
    absence of the owner set or ended ──▶ ``clocks_on_out_of_office`` moves the due times

A clock that is stopped after its due time, or that the sweep already flagged, is breached: a
breach stays a breach (METRICS.md, "SLAs"). A reassignment closes the old holder's clock as
reassigned, or breached when it was late, and opens one for the new holder.

The ``loop`` use cases call the three ``clocks_on_*`` hooks in their transactions, after the
change they made. Each hook locks the lead row first (the order lifecycle and routing lock in),
is idempotent (a second call with the same row starts nothing new) and ignores a stale event: an
assignment or stage change that a later one has overtaken starts nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

from leadloop.accounts.models import OutOfOffice, Team, TeamKind, User
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.capture.models import Touch, TouchKind
from leadloop.common.errors import NotFound
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment
from leadloop.scoring.models import FitRuleSet, ScoreHistory
from leadloop.sla.models import ClockKind, ClockOutcome, MarketingSlaResult, Notification, SlaClock
from leadloop.sla.timing import Absences, Budget, Calendars, budget_for, schedule

# The stage a clock of each kind runs in: leaving it is the clock's goal event.
STAGE_OF: dict[str, Stage] = {
    ClockKind.FIRST_RESPONSE: Stage.MQL,
    ClockKind.CONTACT_ATTEMPT: Stage.SAL,
    ClockKind.DECISION: Stage.SAL,
}
# Touches that count as the contact attempt of a SAL.
CONTACT_TOUCH_KINDS = frozenset({TouchKind.OUTBOUND_CALL, TouchKind.SALES_EMAIL, TouchKind.MEETING})
_SAL_KINDS = (ClockKind.CONTACT_ATTEMPT, ClockKind.DECISION)


@dataclass(frozen=True)
class ClockChanges:
    """What a hook did: the clocks it started and the clocks it stopped."""

    started: list[SlaClock] = field(default_factory=list)
    stopped: list[SlaClock] = field(default_factory=list)


@dataclass(frozen=True)
class _Holder:
    owner: User | None
    team: Team | None

    def holds(self, clock: SlaClock) -> bool:
        if self.owner is not None:
            return clock.owner_id == self.owner.pk
        return clock.owner_id is None and clock.team_id == (self.team.pk if self.team else None)

    @property
    def name(self) -> str:
        return str(self.owner) if self.owner is not None else f"the {self.team} queue"


# --- The hooks ----------------------------------------------------------------------------------


@transaction.atomic
def clocks_on_assignment(
    *, assignment_id: int, agreement: AgreementInForce | None = None
) -> ClockChanges:
    """Start, restart or stop the lead's clocks for a new owner or queue (module docstring).

    Raises NotFound for an unknown assignment.
    """
    assignment = (
        Assignment.objects.select_related("assignee__team", "queue")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise NotFound(f"No assignment with id {assignment_id}.", loc=("assignment_id",))
    lead = _lead_locked(assignment.lead_id)
    done = list(SlaClock.objects.filter(assignment_id=assignment_id))
    later = Assignment.objects.filter(lead_id=lead.pk, pk__gt=assignment_id).exists()
    if done or later:
        return ClockChanges(started=done)
    stopped = _settle(lead)
    holder = _holder_of(assignment.assignee, assignment.queue)
    running = _running(lead.pk)
    leaving = [c for c in running if holder is None or not holder.holds(c)]
    if leaving:
        cause = f"reassigned to {holder.name}" if holder else f"returned to {assignment.queue}"
        stopped += _stop(
            leaving,
            at=assignment.at,
            cause=cause,
            otherwise=ClockOutcome.REASSIGNED if holder else ClockOutcome.CANCELLED,
        )
    if holder is None:
        return ClockChanges(stopped=stopped)
    kept = {c.kind for c in running if c not in leaving}
    wanted = _kinds_for(Stage(lead.stage), [c.kind for c in leaving]) - kept
    started = _start(
        lead,
        [k for k in ClockKind if k in wanted],
        holder,
        at=assignment.at,
        agreement=agreement or agreement_in_force(),
        assignment=assignment,
    )
    return ClockChanges(started=started, stopped=stopped)


@transaction.atomic
def clocks_on_stage_change(
    *, change_id: int, agreement: AgreementInForce | None = None
) -> ClockChanges:
    """Stop the clocks whose stage the lead left (met, or breached when late); on entry into
    SAL start contact_attempt and decision for the lead's holder. Raises NotFound."""
    change = StageChange.objects.filter(pk=change_id).first()
    if change is None:
        raise NotFound(f"No stage change with id {change_id}.", loc=("change_id",))
    lead = _lead_locked(change.lead_id)
    stopped = _settle(lead)
    done = list(SlaClock.objects.filter(stage_change_id=change_id))
    if done or change.to_stage != Stage.SAL or lead.stage != Stage.SAL:
        return ClockChanges(started=done, stopped=stopped)
    if StageChange.objects.filter(lead_id=lead.pk, pk__gt=change_id).exists():
        return ClockChanges(stopped=stopped)
    holder = _holder_of(lead.owner, lead.queue)
    if holder is None:
        return ClockChanges(stopped=stopped)
    started = _start(
        lead,
        list(_SAL_KINDS),
        holder,
        at=change.at,
        agreement=agreement or agreement_in_force(),
        stage_change=change,
    )
    return ClockChanges(started=started, stopped=stopped)


@transaction.atomic
def clocks_on_touch(*, touch_id: int) -> ClockChanges:
    """A sales touch (outbound call, sales e-mail, meeting) is the SAL's contact attempt: stop
    its running contact_attempt clock at the touch's time (met, or breached when late). Touches
    from before the clock started do not count. Raises NotFound."""
    touch = Touch.objects.filter(pk=touch_id).values("lead_id", "kind", "occurred_at").first()
    if touch is None:
        raise NotFound(f"No touch with id {touch_id}.", loc=("touch_id",))
    if touch["kind"] not in CONTACT_TOUCH_KINDS:
        return ClockChanges()
    _lead_locked(touch["lead_id"])
    clocks = [
        c
        for c in _running(touch["lead_id"])
        if c.kind == ClockKind.CONTACT_ATTEMPT and c.started_at <= touch["occurred_at"]
    ]
    label = TouchKind(touch["kind"]).label.lower()
    stopped = _stop(
        clocks,
        at=touch["occurred_at"],
        cause=f"contact attempt: {label}",
        otherwise=ClockOutcome.MET,
    )
    return ClockChanges(stopped=stopped)


@transaction.atomic
def clocks_on_out_of_office(*, user_id: int) -> list[SlaClock]:
    """Recompute the due and reminder times of `user_id`'s running clocks that pause, after one
    of their absences was set, changed or ended. A clock already flagged breached stays so; a
    reminder already sent is not sent again. Returns the clocks whose times moved."""
    clocks = list(
        SlaClock.objects.select_for_update(of=("self",))
        .select_related("team")
        .filter(
            owner_id=user_id, stopped_at__isnull=True, breach_handled_at__isnull=True, pauses=True
        )
    )
    if not clocks:
        return []
    calendars = Calendars()
    absences = absences_of([user_id], since=min(c.started_at for c in clocks)).get(user_id, [])
    moved: list[SlaClock] = []
    for clock in clocks:
        plan = schedule(
            start=clock.started_at,
            budget=_budget_of(clock),
            remind_before=clock.remind_before,
            cal=calendars.of(clock.team),
            absences=absences,
        )
        if (plan.due_at, plan.remind_at) == (clock.due_at, clock.remind_at):
            continue
        clock.due_at, clock.paused = plan.due_at, plan.paused
        fields = ["due_at", "paused"]
        if clock.reminded_at is None:
            clock.remind_at = plan.remind_at
            fields.append("remind_at")
        clock.save(update_fields=fields)
        moved.append(clock)
    return moved


# --- Starting and stopping ----------------------------------------------------------------------


def _lead_locked(lead_id: int) -> Lead:
    lead = (
        Lead.objects.select_for_update(of=("self",))
        .select_related("owner__team", "queue")
        .filter(pk=lead_id)
        .first()
    )
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.", loc=("lead_id",))
    return lead


def _running(lead_id: int) -> list[SlaClock]:
    return list(SlaClock.objects.filter(lead_id=lead_id, stopped_at__isnull=True).order_by("id"))


def _holder_of(owner: User | None, queue: Team | None) -> _Holder | None:
    """Who holds clocks for a lead owned by `owner` or waiting in `queue`: a person, a sales
    queue's team, or nobody (the marketing queue)."""
    if owner is not None:
        return _Holder(owner=owner, team=owner.team)
    if queue is not None and queue.kind == TeamKind.SALES:
        return _Holder(owner=None, team=queue)
    return None


def _kinds_for(stage: Stage, closed: Iterable[str]) -> set[str]:
    """The clocks a new holder takes on: an MQL's first response; a SAL's running clocks."""
    if stage == Stage.MQL:
        return {ClockKind.FIRST_RESPONSE}
    if stage == Stage.SAL:
        return {k for k in closed if k in _SAL_KINDS}
    return set()


def absences_of(
    user_ids: Sequence[int], *, since: dt.datetime
) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """Each user's absences ending after `since`, in one query."""
    found: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    rows = OutOfOffice.objects.filter(user_id__in=user_ids, ends_at__gt=since).values_list(
        "user_id", "starts_at", "ends_at"
    )
    for user_id, starts_at, ends_at in rows:
        found.setdefault(user_id, []).append((starts_at, ends_at))
    return found


def _budget_of(clock: SlaClock) -> Budget:
    return Budget(hours=clock.budget_hours, days=clock.budget_days)


def _start(
    lead: Lead,
    kinds: Sequence[str],
    holder: _Holder,
    *,
    at: dt.datetime,
    agreement: AgreementInForce,
    assignment: Assignment | None = None,
    stage_change: StageChange | None = None,
) -> list[SlaClock]:
    if not kinds:
        return []
    sla = agreement.body.slas.sales
    pauses = sla.pause_when_out_of_office and holder.owner is not None
    absences: Absences = []
    if pauses and holder.owner is not None:
        absences = absences_of([holder.owner.pk], since=at).get(holder.owner.pk, [])
    cal = Calendars().of(holder.team)
    remind_before = dt.timedelta(hours=sla.remind_before_hours) or None
    clocks: list[SlaClock] = []
    for kind in kinds:
        budget = budget_for(kind, sla)
        plan = schedule(
            start=at, budget=budget, remind_before=remind_before, cal=cal, absences=absences
        )
        clocks.append(
            SlaClock.objects.create(
                lead=lead,
                cycle=lead.cycle,
                kind=kind,
                owner=holder.owner,
                team=holder.team,
                started_at=at,
                budget_hours=budget.hours,
                budget_days=budget.days,
                budget=plan.needed,
                due_at=plan.due_at,
                remind_before=remind_before,
                remind_at=plan.remind_at,
                pauses=pauses,
                paused=plan.paused,
                agreement_version=agreement.number,
                assignment=assignment,
                stage_change=stage_change,
            )
        )
    return clocks


def _stop(
    clocks: Sequence[SlaClock], *, at: dt.datetime, cause: str, otherwise: ClockOutcome
) -> list[SlaClock]:
    """Stop running `clocks` at `at`: breached when `at` is after the due time or the sweep
    already flagged the breach, else `otherwise` (met: the goal event happened). Decided in
    the UPDATE itself, so a breach the sweep commits meanwhile is never overwritten."""
    stopped: list[SlaClock] = []
    for clock in clocks:
        when = max(at, clock.started_at)
        late = Q(breach_handled_at__isnull=False) | Q(due_at__lt=when)
        updated = SlaClock.objects.filter(pk=clock.pk, stopped_at__isnull=True).update(
            stopped_at=when,
            stop_cause=cause[:200],
            goal_reached=otherwise == ClockOutcome.MET,
            outcome=Case(When(late, then=Value(ClockOutcome.BREACHED)), default=Value(otherwise)),
            breached_at=Case(When(late, then=F("due_at")), default=Value(None)),
        )
        if updated:
            clock.refresh_from_db()
            stopped.append(clock)
    return stopped


def _settle(lead: Lead) -> list[SlaClock]:
    """Stop the running clocks whose stage the lead has left, at the stage change that left it:
    their goal event happened (met, or breached when late)."""
    stale = [
        c for c in _running(lead.pk) if STAGE_OF[c.kind] != lead.stage or c.cycle != lead.cycle
    ]
    stopped: list[SlaClock] = []
    for clock in stale:
        left = (
            StageChange.objects.filter(
                lead_id=lead.pk, from_stage=STAGE_OF[clock.kind], at__gte=clock.started_at
            )
            .order_by("at", "id")
            .first()
        )
        if left is None:  # not left by a stage change: the lead was moved outside the lifecycle
            stopped += _stop(
                [clock], at=timezone.now(), cause="stage left", otherwise=ClockOutcome.CANCELLED
            )
            continue
        cause = f"{Stage(left.from_stage).label} to {Stage(left.to_stage).label}"
        stopped += _stop([clock], at=left.at, cause=cause, otherwise=ClockOutcome.MET)
    return stopped


# --- Marketing's delivery -------------------------------------------------------------------------


def marketing_sla_evaluate(
    *,
    period_start: dt.datetime,
    period_end: dt.datetime,
    agreement: AgreementInForce,
    now: dt.datetime | None = None,
) -> MarketingSlaResult:
    """Store marketing's delivery in [period_start, period_end) against `agreement`, once: a
    second call (or a second worker) gets the stored result back unchanged.

    Delivered: the MQLs handed to sales in the period, by hand-off time (the Assignment that
    routed the qualification, instant or batched). Good fit: grade A or B at hand-off, read from
    the lead's last ScoreHistory row at or before the hand-off (its fit score against the grade
    B band of the active fit rules), else from the lead's current score when it has no history.
    Answered: accepted or rejected in the same cycle; accepted: reached SAL in it. Shares are
    None when their denominator is 0.
    """
    existing = MarketingSlaResult.objects.filter(
        period_start=period_start, period_end=period_end
    ).first()
    if existing is not None:
        return existing
    counts = delivery_counts(start=period_start, end=period_end)
    targets = agreement.body.slas.marketing
    fit_share = counts["good_fit"] / counts["delivered"] if counts["delivered"] else None
    accepted_share = counts["accepted"] / counts["answered"] if counts["answered"] else None
    try:
        with transaction.atomic():
            return MarketingSlaResult.objects.create(
                period_start=period_start,
                period_end=period_end,
                delivered=counts["delivered"],
                target=targets.mqls_per_period,
                good_fit=counts["good_fit"],
                good_fit_share=fit_share,
                good_fit_target=targets.good_fit_share,
                answered=counts["answered"],
                accepted=counts["accepted"],
                accepted_share=accepted_share,
                accepted_target=targets.accepted_share,
                delivered_met=counts["delivered"] >= targets.mqls_per_period,
                good_fit_met=None if fit_share is None else fit_share >= targets.good_fit_share,
                accepted_met=(
                    None if accepted_share is None else accepted_share >= targets.accepted_share
                ),
                agreement_version=agreement.number,
                evaluated_at=now or timezone.now(),
            )
    except IntegrityError:
        return MarketingSlaResult.objects.get(period_start=period_start, period_end=period_end)


def delivery_counts(*, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    """Marketing's delivery in [start, end) as ``marketing_sla_evaluate`` defines it:
    delivered, good_fit, answered, accepted (also read for the running period's scorecard)."""
    fit_then = Subquery(
        ScoreHistory.objects.filter(lead_id=OuterRef("lead_id"), at__lte=OuterRef("at"))
        .order_by("-at", "-id")
        .values("fit_score")[:1]
    )
    answers = StageChange.objects.filter(
        lead_id=OuterRef("lead_id"), cycle=OuterRef("cycle"), from_stage=Stage.MQL
    )
    rows = (
        Assignment.objects.filter(stage_change__isnull=False, at__gte=start, at__lt=end)
        .annotate(
            fit_then=fit_then,
            answered=Exists(
                answers.filter(to_stage__in=[Stage.SAL, Stage.NURTURE, Stage.DISQUALIFIED])
            ),
            accepted=Exists(answers.filter(to_stage=Stage.SAL)),
        )
        .values_list("fit_then", "lead__score__fit_grade", "answered", "accepted")
    )
    band = _grade_b_band()
    counts = {"delivered": 0, "good_fit": 0, "answered": 0, "accepted": 0}
    for fit, grade_now, answered, accepted in rows:
        counts["delivered"] += 1
        counts["good_fit"] += fit >= band if fit is not None else grade_now in ("A", "B")
        counts["answered"] += bool(answered)
        counts["accepted"] += bool(accepted)
    return counts


def _grade_b_band() -> int:
    """The lowest fit score of grade B under the active fit rules (50 without any)."""
    band = FitRuleSet.objects.filter(is_active=True).values_list("grade_b", flat=True).first()
    return 50 if band is None else band


# --- Notifications ------------------------------------------------------------------------------


def notification_mark_read(
    *, user: User, notification_id: int, now: dt.datetime | None = None
) -> Notification:
    """Mark one of `user`'s notifications read (a second call keeps the first time).
    Raises NotFound for a notification that is not theirs."""
    notification = Notification.objects.filter(pk=notification_id, user=user).first()
    if notification is None:
        raise NotFound(f"No notification {notification_id} of yours.", loc=("notification_id",))
    if notification.read_at is None:
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=now or timezone.now()
        )
        notification.refresh_from_db()
    return notification


def notifications_mark_all_read(*, user: User, now: dt.datetime | None = None) -> int:
    """Mark every unread notification of `user` read; returns how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=now or timezone.now()
    )


@transaction.atomic
def clocks_on_merge(
    *, duplicate_id: int, survivor_id: int, at: dt.datetime | None = None
) -> list[SlaClock]:
    """Stop the duplicate's running clocks before a merge moves them to the survivor, which
    keeps its own (one running clock per kind): cancelled, or breached when already late."""
    return _stop(
        _running(duplicate_id),
        at=at or timezone.now(),
        cause=f"merged into lead {survivor_id}",
        otherwise=ClockOutcome.CANCELLED,
    )

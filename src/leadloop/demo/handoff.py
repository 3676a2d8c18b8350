"""The demo's hand-offs, so both teams' SLA figures have a history from the first login.

- ``demo_history_handoffs``: each MQL cycle of the recent past that its rep answered gets the
  assignment that handed it over and the SLA clocks it ran under, stopped when the rep acted —
  met, or breached when late — as the live hooks (``sla.services``) would have recorded them;
  then marketing's delivery is evaluated for every week that ended since.
- ``demo_open_work_assign``: the MQLs and SALs still open get their assignment and running
  clocks through the live hooks, so the reps' inboxes count down.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import groupby

from django.db import transaction

from leadloop.accounts.models import TeamKind, User
from leadloop.agreements.selectors import AgreementInForce
from leadloop.capture.models import Touch, TouchKind
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.sla.models import ClockKind, ClockOutcome, SlaClock
from leadloop.sla.selectors import marketing_period
from leadloop.sla.services import (
    CONTACT_TOUCH_KINDS,
    clocks_on_assignment,
    clocks_on_stage_change,
    marketing_sla_evaluate,
)
from leadloop.sla.timing import Calendars, budget_for, schedule

_ANSWERS = (Stage.SAL, Stage.NURTURE, Stage.DISQUALIFIED)  # what a rep does with an MQL
HISTORY_WEEKS = 26  # how far back `leadloop demo` records hand-offs


@dataclass(frozen=True)
class HandoffHistory:
    cycles: int  # answered MQL cycles handed over
    clocks: int
    breached: int
    weeks: int  # marketing periods evaluated


@dataclass(frozen=True)
class _Change:
    pk: int
    lead_id: int
    cycle: int
    from_stage: str
    to_stage: str
    at: dt.datetime
    actor_id: int | None


@transaction.atomic
def demo_history_handoffs(
    *, agreement: AgreementInForce, since: dt.datetime, now: dt.datetime
) -> HandoffHistory:
    """Record the hand-off and clocks of every MQL cycle qualified in [since, now) whose rep
    answered it and, when accepted, finished its SAL; cycles still open, and those already
    assigned, are left alone. Then evaluate marketing's delivery for each period within."""
    mqls = StageChange.objects.filter(to_stage=Stage.MQL, at__gte=since, at__lt=now)
    done = set(
        Assignment.objects.filter(stage_change__in=mqls).values_list("stage_change", flat=True)
    )
    rows = (
        StageChange.objects.filter(lead_id__in=mqls.values("lead_id"), at__gte=since)
        .order_by("lead_id", "at", "id")
        .values_list("pk", "lead_id", "cycle", "from_stage", "to_stage", "at", "actor_id")
    )
    contacts: dict[int, list[tuple[dt.datetime, str]]] = {}
    for lead_id, at, kind in (
        Touch.objects.filter(lead_id__in=mqls.values("lead_id"), kind__in=CONTACT_TOUCH_KINDS)
        .order_by("occurred_at")
        .values_list("lead_id", "occurred_at", "kind")
    ):
        contacts.setdefault(lead_id, []).append((at, kind))
    reps = {u.pk: u for u in User.objects.filter(team__kind=TeamKind.SALES).select_related("team")}
    plan = _Plan(agreement)
    for _lead, changes in groupby((_Change(*row) for row in rows), key=lambda c: c.lead_id):
        history = list(changes)
        for i, change in enumerate(history):
            if change.to_stage == Stage.MQL and change.pk not in done:
                plan.cycle(history, i, reps, contacts.get(change.lead_id, []))
    plan.save()
    weeks = 0
    period = marketing_period(at=since, agreement=agreement)
    while period.end <= now:
        if period.start >= since:
            marketing_sla_evaluate(
                period_start=period.start, period_end=period.end, agreement=agreement, now=now
            )
            weeks += 1
        period = marketing_period(at=period.end, agreement=agreement)
    return HandoffHistory(plan.cycles, len(plan.clocks), plan.breached, weeks)


class _Plan:
    """The assignments and stopped clocks of the cycles found, saved in bulk."""

    def __init__(self, agreement: AgreementInForce) -> None:
        self.agreement, self.sla = agreement, agreement.body.slas.sales
        self.calendars = Calendars()
        self.remind_before = dt.timedelta(hours=self.sla.remind_before_hours) or None
        self.assignments: list[Assignment] = []
        self.clocks: list[SlaClock] = []
        self.cycles = self.breached = 0

    def cycle(
        self,
        history: list[_Change],
        i: int,
        reps: dict[int, User],
        contacts: list[tuple[dt.datetime, str]],
    ) -> None:
        mql = history[i]
        later = history[i + 1 :]
        answer = next((c for c in later if c.from_stage == Stage.MQL), None)
        if answer is None or answer.to_stage not in _ANSWERS or answer.actor_id not in reps:
            return  # still open (demo_open_work_assign's), or not a rep's answer
        closed = None
        if answer.to_stage == Stage.SAL:
            closed = next((c for c in later if c.from_stage == Stage.SAL), None)
            if closed is None:
                return  # an open SAL: its clocks run
        rep = reps[answer.actor_id]
        self.assignments.append(
            Assignment(
                lead_id=mql.lead_id,
                cycle=mql.cycle,
                kind=AssignmentKind.ROUTED,
                assignee=rep,
                rule="demo history",
                why="Routed when the demo's story qualified the lead",
                agreement_version=self.agreement.number,
                stage_change_id=mql.pk,
                at=mql.at,
            )
        )
        self.cycles += 1
        # First response: started by the assignment, stopped by the answer.
        self._clock(
            mql, ClockKind.FIRST_RESPONSE, rep, start=mql.at, stop=answer.at, by=answer,
            assignment=self.assignments[-1],
        )  # fmt: skip
        if closed is not None:  # the SAL's, started by the acceptance
            contact = next((t for t in contacts if answer.at <= t[0] < closed.at), None)
            for kind in (ClockKind.CONTACT_ATTEMPT, ClockKind.DECISION):
                if contact is not None and kind == ClockKind.CONTACT_ATTEMPT:
                    label = TouchKind(contact[1]).label.lower()
                    stop, by, cause = contact[0], None, f"contact attempt: {label}"
                else:
                    stop, by, cause = closed.at, closed, ""
                self._clock(
                    mql, kind, rep, start=answer.at, stop=stop, by=by, cause=cause,
                    started_by=answer.pk,
                )  # fmt: skip

    def _clock(
        self,
        mql: _Change,
        kind: str,
        rep: User,
        *,
        start: dt.datetime,
        stop: dt.datetime,
        by: _Change | None = None,
        cause: str = "",
        assignment: Assignment | None = None,
        started_by: int | None = None,
    ) -> None:
        """A clock of `rep`, started by `assignment` or the stage change `started_by` at `start`,
        that ran until its goal event at `stop` (the stage change `by`, else `cause`): met, or
        breached when `stop` is after its due time."""
        budget = budget_for(kind, self.sla)
        plan = schedule(
            start=start,
            budget=budget,
            remind_before=self.remind_before,
            cal=self.calendars.of(rep.team),
        )
        late = stop > plan.due_at
        self.breached += late
        if by is not None:
            cause = f"{Stage(by.from_stage).label} to {Stage(by.to_stage).label}"
        self.clocks.append(
            SlaClock(
                lead_id=mql.lead_id,
                cycle=mql.cycle,
                kind=kind,
                owner=rep,
                team=rep.team,
                started_at=start,
                budget_hours=budget.hours,
                budget_days=budget.days,
                budget=plan.needed,
                due_at=plan.due_at,
                remind_before=self.remind_before,
                remind_at=plan.remind_at,
                pauses=self.sla.pause_when_out_of_office,
                agreement_version=self.agreement.number,
                stopped_at=stop,
                stop_cause=cause[:200],
                goal_reached=True,
                outcome=ClockOutcome.BREACHED if late else ClockOutcome.MET,
                breached_at=plan.due_at if late else None,
                breach_handled_at=plan.due_at if late else None,
                assignment=assignment,
                stage_change_id=started_by,
            )
        )

    def save(self) -> None:
        Assignment.objects.bulk_create(self.assignments, batch_size=500)
        SlaClock.objects.bulk_create(self.clocks, batch_size=500)


def demo_open_work_assign(*, agreement_version: int) -> int:
    """Record how each open MQL or SAL owned by a rep reached them and start its clocks (due
    times from the history's own times, so older ones are already late). Returns how many."""
    done = 0
    leads = Lead.objects.filter(stage__in=(Stage.MQL, Stage.SAL), owner__isnull=False)
    for lead in leads.order_by("pk").iterator():
        qualified = (
            StageChange.objects.filter(lead=lead, to_stage=Stage.MQL).order_by("-at", "-id").first()
        )
        if qualified is None or Assignment.objects.filter(stage_change=qualified).exists():
            continue
        with transaction.atomic():
            assignment = Assignment.objects.create(
                lead=lead,
                cycle=lead.cycle,
                kind=AssignmentKind.ROUTED,
                assignee_id=lead.owner_id,
                rule="demo history",
                why="Routed when the demo's story qualified the lead",
                agreement_version=agreement_version,
                stage_change=qualified,
                at=qualified.at,
            )
            clocks_on_assignment(assignment_id=assignment.pk)
            if lead.stage == Stage.SAL:
                accepted = (
                    StageChange.objects.filter(lead=lead, to_stage=Stage.SAL)
                    .order_by("-at", "-id")
                    .first()
                )
                if accepted is not None:
                    clocks_on_stage_change(change_id=accepted.pk)
        done += 1
    return done

"""The stage machine: every lifecycle change of a lead goes through ``lead_transition``.

    subscriber → lead → MQL → SAL → SQL → opportunity → customer
                          ↘      ↘     ↘        ↘
                            nurture (rejected, lost: with a reason) → MQL again (a new cycle)
    any open stage → disqualified (with a reason)

It knows nothing of routing, clocks or nurture tracks: the ``loop`` use case around it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.db import transaction
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.common.bulk import instances_insert
from leadloop.common.errors import Conflict, LeadloopError
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange

ALLOWED: Final[dict[Stage, frozenset[Stage]]] = {
    Stage.SUBSCRIBER: frozenset({Stage.LEAD, Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.LEAD: frozenset({Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.MQL: frozenset({Stage.SAL, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.SAL: frozenset({Stage.SQL, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.SQL: frozenset({Stage.OPPORTUNITY, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.OPPORTUNITY: frozenset({Stage.CUSTOMER, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.CUSTOMER: frozenset({Stage.NURTURE}),
    Stage.NURTURE: frozenset({Stage.MQL, Stage.DISQUALIFIED}),
    Stage.DISQUALIFIED: frozenset({Stage.LEAD, Stage.NURTURE}),
}

# Moves that need a reason: a rejection or loss (→ nurture from sales stages) and any
# disqualification. The service checks it, not only the form.
_SALES_STAGES: Final = frozenset({Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY})


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"

    def __init__(self, *, lead: Lead, to: Stage) -> None:
        super().__init__(
            f"Lead {lead.pk} cannot move from {Stage(lead.stage).label} to {Stage(to).label}.",
            loc=("stage",),
        )


class ReasonRequired(LeadloopError):
    code = "reason_required"

    def __init__(self, *, from_stage: Stage, to: Stage) -> None:
        super().__init__(
            f"Moving a lead from {from_stage.label} to {to.label} needs a reason.",
            loc=("reason",),
        )


def reason_required(from_stage: Stage, to: Stage) -> bool:
    """Whether the move from `from_stage` to `to` must carry a reason code."""
    if to == Stage.DISQUALIFIED:
        return True
    return to == Stage.NURTURE and from_stage in _SALES_STAGES


@dataclass(frozen=True)
class _Stamp:
    first: str | None
    last: str | None


# Which Lead timestamp columns a move into each stage writes.
_STAMPS: Final[dict[Stage, _Stamp]] = {
    Stage.SUBSCRIBER: _Stamp(None, None),
    Stage.LEAD: _Stamp("lead_first_at", None),
    Stage.MQL: _Stamp("mql_first_at", "mql_last_at"),
    Stage.SAL: _Stamp("sal_first_at", "sal_last_at"),
    Stage.SQL: _Stamp("sql_first_at", "sql_last_at"),
    Stage.OPPORTUNITY: _Stamp("opportunity_first_at", "opportunity_last_at"),
    Stage.CUSTOMER: _Stamp("customer_first_at", None),
    Stage.NURTURE: _Stamp(None, "nurture_last_at"),
    Stage.DISQUALIFIED: _Stamp(None, "disqualified_last_at"),
}


def stamp_fields(lead: Lead, to: Stage, at: datetime) -> list[str]:
    """Set the first/latest-entry timestamps of `to` on `lead` (unsaved); return the fields set.

    Shared with bulk history loaders so that a loaded history and a live one read the same.
    """
    stamp = _STAMPS[to]
    changed = ["stage", "stage_changed_at"]
    lead.stage, lead.stage_changed_at = to, at
    if stamp.first and getattr(lead, stamp.first) is None:
        setattr(lead, stamp.first, at)
        changed.append(stamp.first)
    if stamp.last:
        setattr(lead, stamp.last, at)
        changed.append(stamp.last)
    if to == Stage.MQL:
        lead.cycle += 1
        changed.append("cycle")
    return changed


def lead_transition(
    *,
    lead_id: int,
    to: Stage,
    actor: User | None,
    reason: str = "",
    note: str = "",
    rule: str = "",
    agreement_version: int | None = None,
    at: datetime | None = None,
) -> StageChange:
    """Move a lead to `to` and record who, when and why in one transaction (the caller's, when
    it has one: a refused move writes nothing, so it needs no savepoint of its own).

    Raises ``TransitionNotAllowed`` (also for a repeated request), ``ReasonRequired`` and
    ``Lead.DoesNotExist``.
    """
    refusal: Exception | None = None
    # No savepoint: every refusal is decided before the first write and raised after the
    # block, so it never marks the caller's transaction for rollback.
    with transaction.atomic(savepoint=False):
        # Lock, then read (with the company: routing reads it next when the lead qualifies).
        lead = (
            Lead.objects.select_for_update(of=("self",))
            .select_related("company")
            .filter(pk=lead_id)
            .first()
        )
        current = Stage(lead.stage) if lead is not None else None
        if lead is None or current is None:
            refusal = Lead.DoesNotExist(f"No lead with id {lead_id}.")
        elif to not in ALLOWED[current]:
            refusal = TransitionNotAllowed(lead=lead, to=to)
        elif reason_required(current, to) and not reason:
            refusal = ReasonRequired(from_stage=current, to=to)
        else:
            when = at or timezone.now()
            fields = stamp_fields(lead, to, when)
            change = StageChange.objects.create(
                lead=lead,
                from_stage=current,
                to_stage=to,
                actor=actor,
                rule="" if actor else rule,
                reason=reason,
                note=note,
                agreement_version=agreement_version,
                cycle=lead.cycle,
                at=when,
            )
            lead.save(update_fields=[*fields, "updated_at"])
    if refusal is not None:
        raise refusal
    return change


# --- Bulk history loading -------------------------------------------------------------------
# The demo and imports of another system's lifecycle dates write many histories at once. They
# replay each step through ``stamp_fields``, so a loaded history reads like a live one.

# Where a new lead may enter the funnel.
_ENTRY_STAGES: Final = frozenset({Stage.SUBSCRIBER, Stage.LEAD})


class HistoryInvalid(LeadloopError):
    code = "history_invalid"


@dataclass(frozen=True)
class HistoryStep:
    """One move of a loaded history: into `to` at `at`, by `actor_id` or else by `rule`."""

    to: Stage
    at: datetime
    actor_id: int | None = None
    rule: str = ""
    reason: str = ""
    note: str = ""
    agreement_version: int | None = None


def stage_history_apply(
    lead: Lead, steps: Sequence[HistoryStep], *, strict: bool = True, now: datetime | None = None
) -> list[StageChange]:
    """Replay `steps` on `lead` in memory (stage, timestamps, cycle); return unsaved changes.

    A saved lead continues from its stage, as ``lead_transition`` would; a new (unsaved) one
    starts from no stage and enters at its first step. Steps must
    be aware, in time order, not before the lead's last change and not in the future
    (``HistoryInvalid``). With `strict`, every move must be in ``ALLOWED`` and carry the
    reasons ``lead_transition`` asks for (``TransitionNotAllowed``, ``ReasonRequired``);
    imports of another system's dates, which may skip stages, pass ``strict=False``.
    """
    limit = now or timezone.now()
    current: Stage | None = None if lead.pk is None else Stage(lead.stage)
    last = lead.stage_changed_at
    changes: list[StageChange] = []
    for number, step in enumerate(steps, start=1):
        if timezone.is_naive(step.at) or step.at > limit or (last is not None and step.at < last):
            raise HistoryInvalid(
                f"Lead {lead.pk or lead.email or lead.external_id}, step {number} "
                f"({step.to}): {step.at.isoformat()} must be an aware time after the previous "
                "step and not in the future.",
                loc=("steps", number, "at"),
            )
        if strict and current is None and step.to not in _ENTRY_STAGES:
            raise TransitionNotAllowed(lead=lead, to=step.to)
        if strict and current is not None:
            if step.to not in ALLOWED[current]:
                raise TransitionNotAllowed(lead=lead, to=step.to)
            if reason_required(current, step.to) and not step.reason:
                raise ReasonRequired(from_stage=current, to=step.to)
        stamp_fields(lead, step.to, step.at)
        changes.append(
            StageChange(
                lead=lead,
                from_stage=current or "",
                to_stage=step.to,
                actor_id=step.actor_id,
                rule="" if step.actor_id else step.rule,
                reason=step.reason,
                note=step.note,
                agreement_version=step.agreement_version,
                cycle=lead.cycle,
                at=step.at,
            )
        )
        current, last = step.to, step.at
    return changes


_STAGE_COLUMNS: Final = (
    "stage",
    "stage_changed_at",
    "cycle",
    *sorted({name for s in _STAMPS.values() for name in (s.first, s.last) if name}),
)


@transaction.atomic
def stage_history_load(
    *,
    histories: Sequence[tuple[Lead, Sequence[HistoryStep]]],
    strict: bool = True,
    batch_size: int | None = None,
) -> list[StageChange]:
    """Load many leads' histories in bulk: the leads' stage columns and their StageChange rows.

    Leads without a pk are inserted (with their other fields), leads with one are updated
    (only the stage columns); then every change is inserted. Each history is checked as in
    ``stage_history_apply``; one bad history rolls the whole call back. Returns the changes.
    """
    now = timezone.now()
    changes: list[StageChange] = []
    new: list[Lead] = []
    existing: list[Lead] = []
    for lead, steps in histories:
        changes.extend(stage_history_apply(lead, steps, strict=strict, now=now))
        (existing if lead.pk else new).append(lead)
    if new:
        instances_insert(new, batch_size=batch_size)
    if existing:
        for lead in existing:
            lead.updated_at = now  # bulk_update skips auto_now
        Lead.objects.bulk_update(
            existing, [*_STAGE_COLUMNS, "updated_at"], batch_size=batch_size or 500
        )
    for change in changes:
        change.lead_id = change.lead.pk  # the pk of a lead inserted above
    return instances_insert(changes, batch_size=batch_size)


@transaction.atomic
def lead_enter(
    *,
    lead_id: int,
    stage: Stage = Stage.LEAD,
    actor: User | None = None,
    rule: str = "capture",
    at: datetime | None = None,
) -> StageChange | None:
    """Record a new lead's entry into the lifecycle at `stage` (subscriber or lead).

    Returns None, writing nothing, when the lead already has a history: capturing a known
    lead again is not a new entry. Raises TransitionNotAllowed for any other first stage.
    """
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    if lead.stage_changed_at is not None or StageChange.objects.filter(lead_id=lead_id).exists():
        return None
    change, fields = _entry_stamp(lead, stage=stage, actor=actor, rule=rule, at=at)
    change.save()
    lead.save(update_fields=[*fields, "updated_at"])
    return change


def lead_entry_stamp(
    lead: Lead,
    *,
    stage: Stage = Stage.LEAD,
    actor: User | None = None,
    rule: str = "capture",
    at: datetime | None = None,
) -> StageChange:
    """``lead_enter`` for a new lead before its INSERT: stamp the unsaved `lead`'s stage columns
    in memory and return its entry StageChange, unsaved.

    The caller inserts the lead with those columns, then saves the change, in one transaction:
    two INSERTs where ``lead_enter`` needs a locking read, a check, an INSERT and an UPDATE. A
    lead that is not saved yet has no history to check. Raises TransitionNotAllowed for any
    first stage other than subscriber or lead.
    """
    if lead.pk is not None:
        raise ValueError("lead_entry_stamp is for a lead not inserted yet; use lead_enter.")
    change, _fields = _entry_stamp(lead, stage=stage, actor=actor, rule=rule, at=at)
    return change


def _entry_stamp(
    lead: Lead, *, stage: Stage, actor: User | None, rule: str, at: datetime | None
) -> tuple[StageChange, list[str]]:
    if stage not in _ENTRY_STAGES:
        raise TransitionNotAllowed(lead=lead, to=stage)
    when = at or timezone.now()
    fields = stamp_fields(lead, stage, when)
    change = StageChange(
        lead=lead,
        from_stage="",
        to_stage=stage,
        actor=actor,
        rule="" if actor else rule,
        cycle=lead.cycle,
        at=when,
    )
    return change, fields

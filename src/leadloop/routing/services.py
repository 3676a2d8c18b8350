"""Who owns each lead: routing by the agreement's rules, reassignment by hand, queues, the
batched hand-off and absences.

    lead_route ── the agreement's rules, in order ─┬─ named account: the company's owner
                                                   ├─ territory | sector | company size |
                                                   │  round robin: weighted round robin among
                                                   │  the rule's reps (or its team's sales
                                                   │  reps), skipping the inactive, the absent
                                                   │  and those at a daily or weekly cap
                                                   └─ no rule with an available rep: the
                                                      agreement's fallback queue
    lead_assign: a manager reassigns by hand · lead_queue_set: back to marketing, escalation
    handoff_deliver: the batched hand-off routes the MQLs that waited, once per due time

``Lead.owner`` and ``Lead.queue`` are written here (and by ``loop.merge``) only: every change
writes one Assignment in the same transaction, with the rule, the why, and every candidate
that was skipped and why ("Ana: at weekly cap 25/25").

Concurrency: the lead row is locked first, so a qualification is routed once (and the
unique Assignment.stage_change answers a writer that did not lock: its INSERT does nothing);
a rule's round-robin cursor moves with one UPDATE that locks it until commit, so the rule's
picks take turns; the chosen rep's day and week counters are taken with one conditional
UPDATE (count < cap) whose row count is checked, so no two workers push a rep past a cap.
When another worker filled a counter after it was read, the attempt rolls back (releasing
its row locks: no worker holds a counter while it waits for a cursor) and starts again. The
statements of this path are plain SQL, in ``routing.store`` (benchmarks/routing.py).

Errors: LeadloopError ─┬─ AssignmentInvalid, OutOfOfficeInvalid (they name the field)
                       ├─ NotFound (lead, stage change, absence)
                       ├─ PermissionDenied ─ ReassignNotAllowed, OutOfOfficeNotAllowed
                       └─ Conflict ─ AssignmentUnchanged, RoutingContended
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypedDict
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from leadloop.accounts.models import OutOfOffice, Team, TeamKind, User
from leadloop.accounts.services import team_queue
from leadloop.agreements.schema import Routing, RoutingRule
from leadloop.agreements.selectors import AgreementInForce
from leadloop.common.businesstime import next_weekly_time
from leadloop.common.errors import Conflict, LeadloopError, NotFound, PermissionDenied
from leadloop.leads.models import Lead
from leadloop.routing import store
from leadloop.routing.models import (
    Assignment,
    AssignmentKind,
    HandoffBatch,
    LoadPeriod,
)
from leadloop.routing.rules import LeadFacts, round_robin_cycle, rule_match, unknown_regions
from leadloop.routing.selectors import (
    SALES_ROLES,
    handoff_waiting,
    load_days,
    out_of_office_refusal,
    reassign_refusal,
    reassign_target_refusal,
    zone_named,
)


class AssignmentInvalid(LeadloopError):
    code = "assignment_invalid"


class AssignmentUnchanged(Conflict):
    code = "assignment_unchanged"


class ReassignNotAllowed(PermissionDenied):
    code = "reassign_not_allowed"


class OutOfOfficeInvalid(LeadloopError):
    code = "out_of_office_invalid"


class OutOfOfficeNotAllowed(PermissionDenied):
    code = "out_of_office_not_allowed"


class Skip(TypedDict):
    """One line of an Assignment's explanation: a rule that did not apply, or a candidate
    that was passed over."""

    rule: str
    candidate: str | None  # the username; None when the whole rule did not apply
    skipped: str  # the reason alone: "at weekly cap 25/25"
    text: str  # the line as shown: "Ana: at weekly cap 25/25"


# --- Routing ------------------------------------------------------------------------------------


# How often a routing is tried again after another worker filled a counter it was taking.
_ATTEMPTS = 5


class RoutingContended(Conflict):
    code = "routing_contended"


class TransactionRequired(RuntimeError):
    """A caller's mistake: routing without a savepoint needs the caller's transaction."""


class _Contended(Exception):
    """A counter filled up between reading it and taking it: try the routing again."""


class _AlreadyRouted(Exception):
    """Another writer answered this stage change first."""


def lead_route(
    *,
    lead_id: int,
    agreement: AgreementInForce,
    stage_change_id: int | None,
    at: datetime | None = None,
    savepoint: bool = True,
    attempts: int = _ATTEMPTS,
    lead: Lead | None = None,
) -> Assignment:
    """Route a lead by the agreement's rules to a rep, or else to the fallback queue; in one
    transaction (a savepoint inside the caller's, unless `savepoint` is False: then the
    caller's transaction, as the qualification that routes its MQL at once; a failed attempt
    writes nothing but moved cursors, so no savepoint is needed).

    A qualification (`stage_change_id`) is routed once: a second call, or a second worker,
    gets the first Assignment back and takes no cap slot. Raises NotFound (the lead, the
    stage change), AssignmentInvalid (a stage change of another lead), and RoutingContended
    when other workers kept filling the counters it was taking (after `attempts` tries).
    """
    when = at or timezone.now()
    if not savepoint and not transaction.get_connection().in_atomic_block:
        raise TransactionRequired("lead_route(savepoint=False) runs inside a transaction.")
    for _attempt in range(attempts):
        try:
            if not savepoint:
                return _route_once(lead_id, agreement, stage_change_id, when, lead)
            with transaction.atomic():
                return _route_once(lead_id, agreement, stage_change_id, when, lead)
        except _Contended:
            # What this attempt counted is given back, and with a savepoint its row locks on
            # PostgreSQL are released, before it reads the counters again: a worker never
            # holds a counter while it waits for another rule's cursor. Without one (the
            # caller's transaction) the caller should not wait: attempts=1.
            continue
        except _AlreadyRouted:
            break
    else:
        raise RoutingContended(
            f"Lead {lead_id}: the reps' counters kept changing under {attempts} tries; "
            "route it again.",
            loc=("lead_id",),
        )
    return Assignment.objects.get(stage_change_id=stage_change_id)


def _route_once(
    lead_id: int,
    agreement: AgreementInForce,
    stage_change_id: int | None,
    at: datetime,
    locked: Lead | None,
) -> Assignment:
    routing = agreement.body.routing
    if locked is not None:
        lead: store.LeadRow | None = store.LeadRow.of(locked)
    else:
        lead = store.lead_locked(
            lead_id=lead_id,
            stage_change_id=stage_change_id,
            named_account=any(rule.kind == "named_account" for rule in routing.rules),
        )
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.", loc=("lead_id",))
    if stage_change_id is not None:
        _check_change(lead, stage_change_id)
    if lead.routed_id is not None:
        raise _AlreadyRouted
    walk = _Walk(lead=lead, facts=_facts(lead), routing=routing, at=at, days=_days_around(at))
    notes = walk.notes
    for position, rule in enumerate(routing.rules):
        picked = _rule_pick(rule, walk, later=routing.rules[position + 1 :])
        if picked is not None:
            rep, why = picked
            return _assignment_record(
                lead,
                kind=AssignmentKind.ROUTED,
                assignee_id=rep.id,
                take=_take(rep, routing=routing, at=at),
                rule=rule.name,
                why=why,
                explanation=notes,
                agreement_version=agreement.number,
                stage_change_id=stage_change_id,
                at=at,
                cursor_moves=walk.moves,
            )
    queue = team_queue(name=routing.fallback_queue, kind=TeamKind.SALES)
    why = (
        f"No rule found an available rep: fallback queue {queue.name}"
        if routing.rules
        else f"The agreement has no routing rules: fallback queue {queue.name}"
    )
    return _assignment_record(
        lead,
        kind=AssignmentKind.FALLBACK,
        queue_id=queue.pk,
        why=why,
        explanation=notes,
        agreement_version=agreement.number,
        stage_change_id=stage_change_id,
        at=at,
        cursor_moves=walk.moves,
    )


def _check_change(lead: store.LeadRow, stage_change_id: int) -> None:
    if lead.change_lead_id is None:
        raise NotFound(f"No stage change with id {stage_change_id}.", loc=("stage_change_id",))
    if lead.change_lead_id != lead.id:
        raise AssignmentInvalid(
            f"Stage change {stage_change_id} belongs to lead {lead.change_lead_id}, "
            f"not to lead {lead.id}.",
            loc=("stage_change_id",),
        )


def _facts(lead: store.LeadRow) -> LeadFacts:
    return LeadFacts(
        country=lead.country,
        company_id=lead.company_id,
        company_name=lead.company_name,
        company_country=lead.company_country,
        sector=lead.sector,
        employees=lead.employees,
    )


def _rule_note(rule: RoutingRule, words: str) -> Skip:
    return Skip(rule=rule.name, candidate=None, skipped=words, text=f"rule {rule.name}: {words}")


def _rep_note(rule: RoutingRule, rep: store.RepRow, words: str) -> Skip:
    return Skip(rule=rule.name, candidate=rep.username, skipped=words, text=f"{rep.name}: {words}")


@dataclass
class _Walk:
    """One routing's walk down the rules: the lead, what the rules look at, the reasons
    gathered so far, and the reps read ahead for a later rule (by rule name)."""

    lead: store.LeadRow
    facts: LeadFacts
    routing: Routing
    at: datetime
    days: set[date] = field(default_factory=set)  # the counters' first days to read
    notes: list[Skip] = field(default_factory=list)
    fetched: dict[str, store.Candidates] = field(default_factory=dict)
    # Where rules' cursors end up (cursor id -> position), set with the assignment's write.
    moves: dict[int, int] = field(default_factory=dict)


def _rule_pick(
    rule: RoutingRule, walk: _Walk, *, later: Sequence[RoutingRule] = ()
) -> tuple[store.RepRow, str] | None:
    """The rep `rule` gives the lead to and why, or None (with the reasons added to the
    walk's notes). `later`: the rules after this one."""
    walk.notes.extend(_rule_note(rule, f"unknown region {r!r}") for r in unknown_regions(rule))
    match = rule_match(rule, walk.facts)
    if not match.matched:
        walk.notes.append(_rule_note(rule, match.words))
        return None
    if rule.kind == "named_account":
        return _named_account(rule, walk, later=later)
    rep = _round_robin(
        rule,
        routing=walk.routing,
        at=walk.at,
        notes=walk.notes,
        fetched=walk.fetched.pop(rule.name, None),
        moves=walk.moves,
        days=walk.days,
    )
    if rep is None:
        return None
    context = f" ({match.words})" if match.words else ""
    how = "weighted round robin" if any(r.weight > 1 for r in rule.reps) else "round robin"
    return rep, f"{rule.name}{context}: {how}, {rep.name}'s turn"


def _days_around(at: datetime) -> set[date]:
    """Every first day a rep's day or week counter can have at `at`, whatever their zone
    (UTC-12 to UTC+14): their counters are read with them, in one statement."""
    days = {(at + timedelta(hours=hours)).date() for hours in (-12, 0, 14)}
    return days | {d - timedelta(days=d.weekday()) for d in days}


def _account_owner(walk: _Walk, later: Sequence[RoutingRule]) -> store.RepRow | None:
    lead, at = walk.lead, walk.at
    if lead.account_owner_known:
        if lead.account_owner_id is None:
            return None
        return store.reps(ids=[lead.account_owner_id], at=at, days=walk.days).reps[0]
    # The company's owner is read with the reps of the next rule that takes the lead, in one
    # statement: most companies have no owner, and that rule is asked next.
    ahead = next(
        (r for r in later if r.kind != "named_account" and rule_match(r, walk.facts).matched),
        None,
    )
    found = store.reps(
        usernames=[r.username for r in ahead.reps] if ahead else (),
        team=ahead.team if ahead else "",
        at=at,
        days=walk.days,
        cursor_key=ahead.name[:200] if ahead else None,
        account_of=lead,
    )
    if ahead is not None:
        walk.fetched[ahead.name] = found
    return found.account_owner


def _named_account(
    rule: RoutingRule, walk: _Walk, *, later: Sequence[RoutingRule]
) -> tuple[store.RepRow, str] | None:
    owner = _account_owner(walk, later)
    if owner is None:
        walk.notes.append(_rule_note(rule, "company has no owner"))
        return None
    company = walk.lead.company_name
    reason = _unavailable(owner, routing=walk.routing, at=walk.at)
    if reason is not None:
        walk.notes.append(_rep_note(rule, owner, f"{reason} (owns {company})"))
        return None
    for ahead in walk.fetched.values():  # the turns read ahead are not taken: give them back
        if ahead.turn is not None:
            walk.moves[ahead.turn.cursor_id] = ahead.turn.turn
    return owner, f"{rule.name}: {company} is {owner.name}'s account"


def _round_robin(
    rule: RoutingRule,
    *,
    routing: Routing,
    at: datetime,
    notes: list[Skip],
    fetched: store.Candidates | None = None,
    moves: dict[int, int],
    days: set[date],
) -> store.RepRow | None:
    """The next available rep of the rule's weighted cycle; the rule's cursor ends up past
    them (and where it was when nobody is available). Its pool: the rule's reps with their
    weights, in order, then its team's other active sales reps (weight 1, by username).
    `fetched`: the rule's reps and turn, read ahead; `moves`: where the cursor is to be set
    (with the write) when it does not simply stay one turn on."""
    names = [r.username for r in rule.reps]
    # Read with the reps, and locked until commit: one pick per rule at a time, in turns.
    found = fetched or store.reps(
        usernames=names, team=rule.team, at=at, days=days, cursor_key=rule.name[:200]
    )
    users, turn = found.reps, found.turn
    by_name = {u.username: u for u in users}
    pool: list[tuple[store.RepRow, int]] = []
    for listed in rule.reps:
        user = by_name.get(listed.username)
        if user is None:
            notes.append(_rule_note(rule, f"no user {listed.username!r}"))
        else:
            pool.append((user, listed.weight))
    pool.extend((u, 1) for u in sorted(users, key=lambda u: u.username) if u.username not in names)
    slots = round_robin_cycle([(rep.id, weight) for rep, weight in pool])
    if not slots or turn is None:
        words = f"team {rule.team} has no active sales reps" if rule.team else "names no reps"
        notes.append(_rule_note(rule, words))
        return None
    people = {rep.id: rep for rep, _weight in pool}
    passed: set[int] = set()
    for offset in range(len(slots)):
        rep = people[slots[(turn.turn + offset) % len(slots)]]
        if rep.id in passed:
            continue
        passed.add(rep.id)
        reason = _unavailable(rep, routing=routing, at=at)
        if reason is not None:
            notes.append(_rep_note(rule, rep, reason))
            continue
        if offset:
            moves[turn.cursor_id] = turn.turn + offset + 1
        return rep
    moves[turn.cursor_id] = turn.turn
    return None


def _zone(rep: store.RepRow) -> ZoneInfo:
    return zone_named(*rep.time_zones)


def _unavailable(rep: store.RepRow, *, routing: Routing, at: datetime) -> str | None:
    """Why `rep` cannot take a lead now - inactive, away, at a cap (by the counters read with
    them) - or None. The take itself checks the caps again (``_assignment_record``)."""
    if not rep.is_active:
        return "inactive"
    if routing.skip_out_of_office and rep.away_until is not None:
        local = rep.away_until.astimezone(_zone(rep))
        shown = f"{local:%Y-%m-%d}" if local.time() == time(0) else f"{local:%Y-%m-%d %H:%M}"
        return f"out of office until {shown}"
    day, week = load_days(at=at, tz=_zone(rep))
    for period, starts_on, cap, label in (
        (LoadPeriod.DAY, day, routing.cap_per_day, "daily"),
        (LoadPeriod.WEEK, week, routing.cap_per_week, "weekly"),
    ):
        count = rep.loads.get((period, starts_on), 0)
        if cap is not None and count >= cap:
            return f"at {label} cap {count}/{cap}"
    return None


def _take(rep: store.RepRow, *, routing: Routing, at: datetime) -> store.Take:
    """The slot on the rep's day and week counters (in the rep's zone), made when missing."""
    day, week = load_days(at=at, tz=_zone(rep))
    missing = [
        (p, d)
        for p, d in ((LoadPeriod.DAY, day), (LoadPeriod.WEEK, week))
        if (p, d) not in rep.loads
    ]
    if missing:
        store.counters_create(user_id=rep.id, counters=missing)
    return store.Take(
        user_id=rep.id,
        day=day,
        day_cap=routing.cap_per_day,
        week=week,
        week_cap=routing.cap_per_week,
    )


def _assignment_record(
    lead: store.LeadRow | Lead,
    *,
    kind: AssignmentKind,
    assignee_id: int | None = None,
    take: store.Take | None = None,
    queue_id: int | None = None,
    rule: str = "",
    why: str,
    explanation: Sequence[Skip] = (),
    agreement_version: int | None,
    stage_change_id: int | None = None,
    actor_id: int | None = None,
    at: datetime,
    cursor_moves: dict[int, int] | None = None,
) -> Assignment:
    """Take the rep's slot (`take`), record the new owner (a person, else a queue) and set it
    on the lead: the one writer of Lead.owner and Lead.queue. `cursor_moves`: round-robin
    cursors to set in the same write (a routing's walk past unavailable reps).

    Raises _Contended when a counter of the take filled up since it was read (another
    worker's), and _AlreadyRouted when the stage change has its assignment already (the
    unique constraint, for a writer that did not lock the lead); the caller rolls back."""
    queue_id = None if assignee_id is not None else queue_id
    written = store.assignment_write(
        take=take,
        owner_at=timezone.now(),
        cursor_moves=tuple((cursor_moves or {}).items()),
        lead_id=lead.id,
        cycle=lead.cycle,
        kind=kind,
        assignee_id=assignee_id,
        queue_id=queue_id,
        previous_assignee_id=lead.owner_id,
        previous_queue_id=lead.queue_id,
        rule=rule[:100],
        why=why[:500],
        explanation=list(explanation),
        agreement_version=agreement_version,
        stage_change_id=stage_change_id,
        actor_id=actor_id,
        at=at,
    )
    if written.taken is not None and written.taken < 2:
        raise _Contended
    if written.assignment is None:
        raise _AlreadyRouted
    return written.assignment


# --- By hand, and queues --------------------------------------------------------------------------


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
    return _assignment_record(
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
    return _assignment_record(
        lead,
        kind=kind,
        queue_id=queue.pk,
        why=why.strip(),
        agreement_version=agreement_version,
        actor_id=actor.pk if actor else None,
        at=at or timezone.now(),
    )


# --- The batched hand-off -----------------------------------------------------------------------


def handoff_due_at(*, agreement: AgreementInForce, after: datetime) -> datetime:
    """The first batched hand-off time strictly after `after` (the agreement's weekday and
    local time, in its zone), in UTC."""
    handoff = agreement.body.handoff
    return next_weekly_time(
        after=after,
        weekday=handoff.weekday,
        at=time.fromisoformat(handoff.time),
        tz=ZoneInfo(handoff.time_zone),
    )


def _handoff_due_last(agreement: AgreementInForce, now: datetime) -> datetime:
    """The latest hand-off time at or before `now`."""
    due = handoff_due_at(agreement=agreement, after=now - timedelta(days=8))
    while (following := handoff_due_at(agreement=agreement, after=due)) <= now:
        due = following
    return due


# A claim older than this whose delivery never finished (the worker died) may be taken over.
HANDOFF_CLAIM_STALE = timedelta(minutes=15)


def handoff_deliver(*, now: datetime, agreement: AgreementInForce) -> HandoffBatch | None:
    """Deliver the batched hand-off due at or before `now`, once: route every MQL that
    qualified by the due time and still waits, oldest qualification first.

    None when the agreement hands off instantly, or when this due time was claimed already
    (a second run, a second worker). Steps: make the batch row for the due time; claim it
    with a conditional UPDATE (not claimed, or claimed more than HANDOFF_CLAIM_STALE ago and
    never delivered); route each waiting lead in its own transaction (``lead_route``, once
    per qualification, so a taken-over delivery routes nobody twice); record the count.
    """
    if agreement.body.handoff.mode != "batched":
        return None
    due = _handoff_due_last(agreement, now)
    batch, _created = HandoffBatch.objects.get_or_create(
        due_at=due, defaults={"agreement_version": agreement.number}
    )
    claimable = Q(claimed_at__isnull=True) | Q(
        delivered_at__isnull=True, claimed_at__lt=now - HANDOFF_CLAIM_STALE
    )
    if not HandoffBatch.objects.filter(claimable, pk=batch.pk).update(claimed_at=now):
        return None
    waiting = list(handoff_waiting(until=due).values_list("pk", "lead_id"))
    for change_id, lead_id in waiting:
        lead_route(lead_id=lead_id, agreement=agreement, stage_change_id=change_id, at=now)
    HandoffBatch.objects.filter(pk=batch.pk).update(delivered=len(waiting), delivered_at=now)
    batch.refresh_from_db()
    return batch


# --- Out of office ------------------------------------------------------------------------------


def _aware(value: datetime, field: str) -> None:
    if timezone.is_naive(value):
        raise OutOfOfficeInvalid(
            f"{field} needs a time zone (an offset such as +01:00, or Z for UTC).", loc=(field,)
        )


@transaction.atomic
def out_of_office_set(
    *, actor: User, user: User, starts_at: datetime, ends_at: datetime, note: str = ""
) -> OutOfOffice:
    """Record that `user` is away from `starts_at` to `ends_at`: routing skips them meanwhile.

    A person sets their own absence, a sales manager their team's, an admin anyone's (else
    OutOfOfficeNotAllowed). Raises OutOfOfficeInvalid naming ends_at when it is not after
    starts_at.
    """
    refusal = out_of_office_refusal(actor=actor, user=user)
    if refusal is not None:
        raise OutOfOfficeNotAllowed(refusal, loc=("user",))
    _aware(starts_at, "starts_at")
    _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise OutOfOfficeInvalid(
            f"ends_at ({ends_at:%Y-%m-%d %H:%M %Z}) must be after starts_at "
            f"({starts_at:%Y-%m-%d %H:%M %Z}).",
            loc=("ends_at",),
        )
    return OutOfOffice.objects.create(
        user=user,
        starts_at=starts_at,
        ends_at=ends_at,
        note=note.strip()[:200],
        created_by=actor,
    )


@transaction.atomic
def out_of_office_end(
    *, actor: User, out_of_office_id: int, at: datetime | None = None
) -> OutOfOffice:
    """End an absence at `at` (now): one going on ends then, one not started yet is
    cancelled (deleted; the returned copy has no pk), one already over is left as it is."""
    absence = (
        OutOfOffice.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=out_of_office_id)
        .first()
    )
    if absence is None:
        raise NotFound(f"No absence with id {out_of_office_id}.", loc=("out_of_office_id",))
    refusal = out_of_office_refusal(actor=actor, user=absence.user)
    if refusal is not None:
        raise OutOfOfficeNotAllowed(refusal, loc=("out_of_office_id",))
    now = at or timezone.now()
    if absence.ends_at <= now:
        return absence
    if absence.starts_at >= now:
        absence.delete()
        return absence
    absence.ends_at = now
    absence.save(update_fields=["ends_at"])
    return absence

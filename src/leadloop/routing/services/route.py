"""Routing a lead by the agreement's rules: named accounts, territories, sectors, company
sizes, weighted round robin with caps and absences, then the fallback queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from leadloop.accounts.models import TeamKind
from leadloop.accounts.services import team_queue
from leadloop.agreements.schema import Routing, RoutingRule
from leadloop.agreements.selectors import AgreementInForce
from leadloop.common.errors import Conflict, NotFound
from leadloop.leads.models import Lead
from leadloop.routing import store
from leadloop.routing.models import Assignment, AssignmentKind, LoadPeriod
from leadloop.routing.rules import LeadFacts, round_robin_cycle, rule_match, unknown_regions
from leadloop.routing.selectors import load_days, zone_named
from leadloop.routing.services.record import (
    AlreadyRouted,
    AssignmentInvalid,
    Contended,
    Skip,
    assignment_record,
)

# How often a routing is tried again after another worker filled a counter it was taking.
_ATTEMPTS = 5


class RoutingContended(Conflict):
    code = "routing_contended"


class TransactionRequired(RuntimeError):
    """A caller's mistake: routing without a savepoint needs the caller's transaction."""


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
        except Contended:
            # What this attempt counted is given back, and with a savepoint its row locks on
            # PostgreSQL are released, before it reads the counters again: a worker never
            # holds a counter while it waits for another rule's cursor. Without one (the
            # caller's transaction) the caller should not wait: attempts=1.
            continue
        except AlreadyRouted:
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
        raise AlreadyRouted
    walk = _Walk(lead=lead, facts=_facts(lead), routing=routing, at=at, days=_days_around(at))
    notes = walk.notes
    for position, rule in enumerate(routing.rules):
        picked = _rule_pick(rule, walk, later=routing.rules[position + 1 :])
        if picked is not None:
            rep, why = picked
            return assignment_record(
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
    return assignment_record(
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
    them) - or None. The take itself checks the caps again (``record.assignment_record``)."""
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

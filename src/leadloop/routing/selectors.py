"""Reads of routing shared by the UI, the API and the services: who may reassign what, the
assignment history, reps' loads against the caps, who is away, the batched hand-off's queue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from leadloop.accounts.models import OutOfOffice, Role, Team, TeamKind, User
from leadloop.agreements.schema import Routing, RoutingRule
from leadloop.agreements.selectors import AgreementInForce
from leadloop.common.errors import NotFound
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment, AssignmentKind, LoadPeriod, RepLoad
from leadloop.routing.rules import size_range

SALES_ROLES: tuple[str, ...] = (Role.SALES_REP, Role.SALES_MANAGER)
# Who may reassign a lead by hand; a sales manager only within their own team.
REASSIGN_ROLES = frozenset({Role.SALES_MANAGER, Role.REVENUE_LEADER, Role.ADMIN})
# Who sees the routing pages: loads, absences, the rules at work.
ROUTING_PAGE_ROLES = frozenset({Role.SALES_MANAGER, Role.REVENUE_LEADER, Role.ADMIN})


# --- Time: a rep's day and week ---------------------------------------------------------------


def rep_zone(user: User) -> ZoneInfo:
    """The zone a rep's day and week are counted in: their own, else their team's, else the
    installation's default."""
    return zone_named(user.time_zone, user.team.time_zone if user.team_id and user.team else "")


def zone_named(*names: str) -> ZoneInfo:
    """The first valid zone among `names`, else the installation's default, else UTC."""
    for name in (*names, settings.LEADLOOP_DEFAULT_TIME_ZONE):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def load_days(*, at: dt.datetime, tz: ZoneInfo) -> tuple[dt.date, dt.date]:
    """The local day of `at` in `tz` and the Monday its ISO week starts on."""
    day = at.astimezone(tz).date()
    return day, day - dt.timedelta(days=day.weekday())


# --- Who may do what ----------------------------------------------------------------------------


def _is_admin(user: User) -> bool:
    return user.is_superuser or user.role in (Role.REVENUE_LEADER, Role.ADMIN)


def reassign_refusal(*, actor: User, lead: Lead) -> str | None:
    """Why `actor` may not reassign `lead` by hand, or None when they may. Sales managers
    reassign the leads of their team's members and of their team's queue; revenue leaders and
    admins any lead."""
    if _is_admin(actor):
        return None
    if actor.role != Role.SALES_MANAGER:
        return (
            f"Your role ({Role(actor.role).label}) may not reassign leads: sales managers, "
            "revenue leaders and admins may."
        )
    if actor.team_id is None:
        return "You are not on a team: a sales manager reassigns the leads of their own team."
    owner = lead.owner
    if owner is not None and (owner.pk == actor.pk or owner.team_id == actor.team_id):
        return None
    if owner is None and lead.queue_id == actor.team_id:
        return None
    held = f"owned by {owner}" if owner is not None else f"in the {lead.queue or 'no'} queue"
    return (
        f"Lead {lead.pk} is {held}: a sales manager reassigns only the leads of their own "
        f"team ({actor.team})."
    )


def reassign_target_refusal(
    *, actor: User, assignee: User | None, queue: Team | None
) -> tuple[str, str] | None:
    """Why `actor` may not hand a lead to `assignee` or `queue`, as (field, message), or None.
    A sales manager hands leads to their own team's people and queue only."""
    if assignee is not None:
        if _is_admin(actor) or assignee.pk == actor.pk or assignee.team_id == actor.team_id:
            return None
        return (
            "assignee",
            f"{assignee} is not on your team ({actor.team}): a sales manager reassigns "
            "within their own team.",
        )
    if queue is not None and not _is_admin(actor) and queue.pk != actor.team_id:
        return (
            "queue",
            f"The {queue} queue is not your team's: a sales manager reassigns to their own "
            f"team's queue ({actor.team}).",
        )
    return None


def out_of_office_refusal(*, actor: User, user: User) -> str | None:
    """Why `actor` may not set or end `user`'s absence, or None: a person sets their own, a
    sales manager their team's, an admin anyone's."""
    if actor.pk == user.pk or actor.is_superuser or actor.role == Role.ADMIN:
        return None
    if actor.role == Role.SALES_MANAGER and actor.team_id and actor.team_id == user.team_id:
        return None
    return (
        f"You ({Role(actor.role).label}) may not set {user}'s absence: a person sets their own, "
        "a sales manager their team's, an admin anyone's."
    )


# --- The assignment history of a lead -----------------------------------------------------------


@dataclass(frozen=True)
class AssignmentRow:
    """One change of a lead's owner, as the lead page and the API show it."""

    id: int
    at: dt.datetime
    kind: str
    kind_label: str
    assignee_id: int | None
    assignee_username: str | None
    assignee_name: str | None
    queue_id: int | None
    queue_name: str | None
    previous_name: str | None  # the person or "<team> queue" before, None for a first owner
    rule: str
    why: str
    explanation: list[dict[str, Any]]
    actor_username: str | None
    actor_name: str | None  # None: the system
    agreement_version: int | None
    stage_change_id: int | None

    @property
    def owner_name(self) -> str:
        return self.assignee_name or f"{self.queue_name} queue"


def _owner_words(user: User | None, team: Team | None) -> str | None:
    if user is not None:
        return str(user)
    if team is not None:
        return f"{team} queue"
    return None


def _assignment_row(a: Assignment) -> AssignmentRow:
    return AssignmentRow(
        id=a.pk,
        at=a.at,
        kind=a.kind,
        kind_label=str(AssignmentKind(a.kind).label),
        assignee_id=a.assignee_id,
        assignee_username=a.assignee.username if a.assignee else None,
        assignee_name=str(a.assignee) if a.assignee else None,
        queue_id=a.queue_id,
        queue_name=a.queue.name if a.queue else None,
        previous_name=_owner_words(a.previous_assignee, a.previous_queue),
        rule=a.rule,
        why=a.why,
        explanation=list(a.explanation or []),
        actor_username=a.actor.username if a.actor else None,
        actor_name=str(a.actor) if a.actor else None,
        agreement_version=a.agreement_version,
        stage_change_id=a.stage_change_id,
    )


def _assignments() -> QuerySet[Assignment]:
    return Assignment.objects.select_related(
        "assignee", "queue", "previous_assignee", "previous_queue", "actor"
    )


def assignment_history(*, lead_id: int) -> list[AssignmentRow]:
    """Every assignment of the lead, newest first, with names, rule, why and the candidates
    skipped (``explanation``)."""
    rows = _assignments().filter(lead_id=lead_id).order_by("-at", "-id")
    return [_assignment_row(a) for a in rows]


def assignment_get(*, assignment_id: int) -> AssignmentRow:
    """One assignment as the history shows it; raises NotFound naming the id."""
    found = _assignments().filter(pk=assignment_id).first()
    if found is None:
        raise NotFound(f"No assignment with id {assignment_id}.", loc=("assignment_id",))
    return _assignment_row(found)


# --- Manual reassignment ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReassignChoices:
    refusal: str | None  # why the viewer may not reassign this lead; None: they may
    people: list[User]
    queues: list[Team]

    @property
    def allowed(self) -> bool:
        return self.refusal is None


def reassign_choices(*, actor: User, lead: Lead) -> ReassignChoices:
    """Whom `actor` may hand `lead` to: people and queues (the current owner left out)."""
    refusal = reassign_refusal(actor=actor, lead=lead)
    if refusal is not None:
        return ReassignChoices(refusal=refusal, people=[], queues=[])
    people = User.objects.filter(is_active=True, role__in=SALES_ROLES).select_related("team")
    queues = Team.objects.all()
    if not _is_admin(actor):
        # A sales manager with a team: reassign_refusal turned away one without.
        people = people.filter(team=actor.team)
        queues = queues.filter(members=actor)
    if lead.owner_id is not None:
        people = people.exclude(pk=lead.owner_id)
    elif lead.queue_id is not None:
        queues = queues.exclude(pk=lead.queue_id)
    return ReassignChoices(refusal=None, people=list(people), queues=list(queues.order_by("name")))


# --- Loads, absences, rules at work -------------------------------------------------------------


@dataclass(frozen=True)
class RepLoadRow:
    user_id: int
    username: str
    name: str
    team: str
    today: int
    week: int
    cap_per_day: int | None
    cap_per_week: int | None
    away_until: dt.datetime | None

    @property
    def at_day_cap(self) -> bool:
        return self.cap_per_day is not None and self.today >= self.cap_per_day

    @property
    def at_week_cap(self) -> bool:
        return self.cap_per_week is not None and self.week >= self.cap_per_week


def _away_until(*, user_ids: list[int], at: dt.datetime) -> dict[int, dt.datetime]:
    away: dict[int, dt.datetime] = {}
    for ooo in out_of_office_now(at=at).filter(user_id__in=user_ids):
        away[ooo.user_id] = max(ooo.ends_at, away.get(ooo.user_id, ooo.ends_at))
    return away


def rep_loads(
    *, team: Team | None = None, at: dt.datetime, routing: Routing | None = None
) -> list[RepLoadRow]:
    """Each active sales rep's routed leads today and this week (in the rep's own zone)
    against the agreement's caps, and whether they are away at `at`; by team, then name."""
    reps = User.objects.filter(is_active=True, role=Role.SALES_REP).select_related("team")
    if team is not None:
        reps = reps.filter(team=team)
    users = sorted(reps, key=lambda u: ((u.team.name if u.team else "~"), str(u).casefold()))
    days = {u.pk: load_days(at=at, tz=rep_zone(u)) for u in users}
    starts = {d for pair in days.values() for d in pair}
    counts = {
        (r.user_id, r.period, r.starts_on): r.count
        for r in RepLoad.objects.filter(user_id__in=list(days), starts_on__in=starts)
    }
    away = _away_until(user_ids=list(days), at=at)
    return [
        RepLoadRow(
            user_id=u.pk,
            username=u.username,
            name=str(u),
            team=u.team.name if u.team else "",
            today=counts.get((u.pk, LoadPeriod.DAY, days[u.pk][0]), 0),
            week=counts.get((u.pk, LoadPeriod.WEEK, days[u.pk][1]), 0),
            cap_per_day=routing.cap_per_day if routing else None,
            cap_per_week=routing.cap_per_week if routing else None,
            away_until=away.get(u.pk),
        )
        for u in users
    ]


def out_of_office_now(*, at: dt.datetime) -> QuerySet[OutOfOffice]:
    """The absences going on at `at`, with the person, ending soonest first."""
    return (
        OutOfOffice.objects.filter(starts_at__lte=at, ends_at__gt=at)
        .select_related("user", "user__team", "created_by")
        .order_by("ends_at", "pk")
    )


def out_of_office_visible(*, viewer: User, at: dt.datetime) -> QuerySet[OutOfOffice]:
    """The absences `viewer` may see and change that are not over at `at`: their own, their
    team's for a sales manager, everyone's for admins and revenue leaders; soonest first."""
    rows = OutOfOffice.objects.filter(ends_at__gt=at).select_related(
        "user", "user__team", "created_by"
    )
    if _is_admin(viewer):
        pass
    elif viewer.role == Role.SALES_MANAGER and viewer.team_id:
        rows = rows.filter(Q(user=viewer) | Q(user__team_id=viewer.team_id))
    else:
        rows = rows.filter(user=viewer)
    return rows.order_by("starts_at", "pk")


def out_of_office_people(*, actor: User) -> list[User]:
    """Whose absence `actor` may set: themselves, their team (a sales manager), anyone active
    (an admin)."""
    if actor.is_superuser or actor.role == Role.ADMIN:
        return list(User.objects.filter(is_active=True).select_related("team"))
    if actor.role == Role.SALES_MANAGER and actor.team_id:
        return list(
            User.objects.filter(Q(pk=actor.pk) | Q(team_id=actor.team_id, is_active=True))
            .select_related("team")
            .distinct()
        )
    return [actor]


@dataclass(frozen=True)
class RuleRow:
    name: str
    kind: str
    summary: str  # what it matches and whom it picks, in words
    routed: int  # leads it routed since the given time


def rule_summary(rule: RoutingRule) -> str:
    """A rule in words: "countries DE, AT; regions DACH -> team Sales DACH"."""
    parts: list[str] = []
    if rule.kind == "named_account":
        return "a lead of a company that already has an owner goes to that owner"
    if rule.countries:
        parts.append("countries " + ", ".join(rule.countries))
    if rule.regions:
        parts.append("regions " + ", ".join(rule.regions))
    if rule.sectors:
        parts.append("sectors " + ", ".join(rule.sectors))
    if rule.kind == "company_size":
        parts.append(f"{size_range(rule)} employees")
    if rule.kind == "round_robin":
        parts.append("every lead")
    who = [f"team {rule.team}"] if rule.team else []
    who += [f"{r.username}" + (f" x{r.weight}" if r.weight > 1 else "") for r in rule.reps]
    return f"{'; '.join(parts)} -> {', '.join(who) or 'nobody'}"


def rule_stats(*, agreement: AgreementInForce, since: dt.datetime) -> list[RuleRow]:
    """The agreement's rules in order, each with how many leads it routed since `since`."""
    routed = dict(
        Assignment.objects.filter(kind=AssignmentKind.ROUTED, at__gte=since)
        .values("rule")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("rule", "n")
    )
    return [
        RuleRow(
            name=rule.name,
            kind=rule.kind.replace("_", " "),
            summary=rule_summary(rule),
            routed=routed.get(rule.name, 0),
        )
        for rule in agreement.body.routing.rules
    ]


@dataclass(frozen=True)
class QueueSize:
    name: str
    leads: int  # leads the queue owns (no person does)
    fallbacks_since: int  # leads that fell back to it since the given time


def fallback_queue_size(*, agreement: AgreementInForce, since: dt.datetime) -> QueueSize:
    """How many leads sit in the agreement's fallback queue, and how many fell into it lately."""
    name = agreement.body.routing.fallback_queue
    return QueueSize(
        name=name,
        leads=Lead.objects.filter(owner__isnull=True, queue__name=name).count(),
        fallbacks_since=Assignment.objects.filter(
            kind=AssignmentKind.FALLBACK, at__gte=since
        ).count(),
    )


def sales_queues() -> QuerySet[Team]:
    """The sales teams: the queues a lead can be handed to."""
    return Team.objects.filter(kind=TeamKind.SALES).order_by("name")


# --- The batched hand-off -----------------------------------------------------------------------


def handoff_waiting(*, until: dt.datetime | None = None) -> QuerySet[StageChange]:
    """The qualifications waiting to be handed to sales: each lead still at MQL whose current
    cycle's move into MQL (at or before `until`) has no Assignment yet; oldest first."""
    routed = Assignment.objects.filter(stage_change_id=OuterRef("pk"))
    rows = StageChange.objects.filter(
        to_stage=Stage.MQL, lead__stage=Stage.MQL, cycle=F("lead__cycle")
    ).exclude(Exists(routed))
    if until is not None:
        rows = rows.filter(at__lte=until)
    return rows.order_by("at", "pk")


def queue_by_name(*, name: str) -> Team | None:
    """The team queue called `name` (exactly), or None."""
    return Team.objects.filter(name=name).first()

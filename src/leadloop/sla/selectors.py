"""Reads of the SLA clocks shared by the inbox, the manager's page, the compliance reports, the
API and the notification bell.

Countdown states (UI.md, "The rep's inbox"): **green** while more than half of the clock's
running time is left, **amber** from half down to the due time, **red** once it is due (time
left <= 0). Time left is business time in the clock's team calendar, with the owner's absences
cut out when the clock pauses (so a paused clock's countdown stands still); once late it is
the plain business time since the due time, negative.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from django.utils import timezone

from leadloop.accounts.models import Team, User
from leadloop.agreements.selectors import AgreementInForce
from leadloop.common.businesstime import business_time_between
from leadloop.common.errors import NotFound
from leadloop.lifecycle.selectors import Period, month_period, week_period
from leadloop.sla.models import ClockKind, ClockOutcome, MarketingSlaResult, Notification, SlaClock
from leadloop.sla.notify import MESSAGE_RELATED, words
from leadloop.sla.services import absences_of
from leadloop.sla.timing import Calendars, running_time_between

State = Literal["green", "amber", "red"]
AMBER_BELOW = 0.5  # share of the running time left under which a clock turns amber


@dataclass(frozen=True)
class OpenClock:
    """A running clock as the inbox shows it."""

    id: int
    lead_id: int
    lead_name: str
    company: str
    kind: ClockKind
    owner_id: int | None
    owner_name: str  # the person, or "Sales queue" for a team clock
    team_id: int | None
    started_at: dt.datetime
    due_at: dt.datetime
    budget: dt.timedelta  # the running time the clock needs
    budget_label: str
    left: dt.timedelta  # business time left; negative when late
    state: State
    paused: bool  # the owner is out of office now and the clock pauses

    @property
    def share_left(self) -> float:
        seconds = self.budget.total_seconds()
        return self.left.total_seconds() / seconds if seconds else 0.0


def clock_state(*, left: dt.timedelta, budget: dt.timedelta) -> State:
    """Green above half of the budget left, amber down to the due time, red when due."""
    if left <= dt.timedelta(0):
        return "red"
    if budget.total_seconds() and left.total_seconds() / budget.total_seconds() > AMBER_BELOW:
        return "green"
    return "amber"


def open_clocks(
    *, owner: User | None = None, team: Team | None = None, now: dt.datetime
) -> list[OpenClock]:
    """Running clocks, soonest due first: `owner`'s, or `team`'s (its members' and its queue's),
    or all. Time left and state as of `now` (module docstring)."""
    rows = SlaClock.objects.filter(stopped_at__isnull=True).select_related(
        "lead__company", "owner", "team"
    )
    if owner is not None:
        rows = rows.filter(owner=owner)
    if team is not None:
        rows = rows.filter(Q(team=team) | Q(owner__team=team))
    clocks = list(rows.order_by("due_at", "id"))
    calendars = Calendars()
    pausing = [c.owner_id for c in clocks if c.pauses and c.owner_id is not None]
    since = min((c.started_at for c in clocks), default=now)
    absences = absences_of(sorted(set(pausing)), since=min(since, now)) if pausing else {}
    found: list[OpenClock] = []
    for clock in clocks:
        away = absences.get(clock.owner_id, []) if clock.pauses and clock.owner_id else []
        cal = calendars.of(clock.team)
        left = running_time_between(now, clock.due_at, cal, away)
        found.append(
            OpenClock(
                id=clock.pk,
                lead_id=clock.lead_id,
                lead_name=str(clock.lead),
                company=str(clock.lead.company) if clock.lead.company_id else "",
                kind=ClockKind(clock.kind),
                owner_id=clock.owner_id,
                owner_name=str(clock.owner) if clock.owner else f"{clock.team} queue",
                team_id=clock.team_id,
                started_at=clock.started_at,
                due_at=clock.due_at,
                budget=clock.budget,
                budget_label=clock.budget_label,
                left=left,
                state=clock_state(left=left, budget=clock.budget),
                paused=any(start <= now < end for start, end in away),
            )
        )
    return found


def lead_clocks(*, lead_id: int) -> QuerySet[SlaClock]:
    """A lead's clocks, newest first (the lead page's running clock and its history)."""
    return (
        SlaClock.objects.filter(lead_id=lead_id)
        .select_related("owner", "team")
        .order_by("-started_at", "-id")
    )


# --- Compliance ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComplianceRow:
    """One team, rep (None: the team's queue), week and kind of clock (METRICS.md, "SLAs").

    Counted: the clocks due in the week. ``share_met`` = met / (met + breached), None when
    both are 0; running clocks not due yet are beside (``running``), never counted; cancelled
    and reassigned clocks are beside too. Response times: business time from start to stop of
    the clocks stopped by their goal event (met or late), in hours; median and p90 (linear interpolation
    between the closest ranks), None without any.
    """

    team_id: int | None
    team_name: str
    owner_id: int | None
    owner_name: str
    week_start: dt.date  # the Monday, in the team's time zone
    kind: ClockKind
    met: int
    breached: int
    running: int
    closed_otherwise: int  # cancelled or reassigned without a breach
    share_met: float | None
    median_hours: float | None
    p90_hours: float | None
    responses: int  # how many response times the median and p90 are of


def compliance_rows(
    *,
    team: Team | None = None,
    period: Period,
    now: dt.datetime | None = None,
    kind: ClockKind | None = None,
) -> list[ComplianceRow]:
    """SLA compliance per team, rep, week and kind for clocks due in `period` (module and
    ComplianceRow docstrings), ordered by team, week, kind and rep."""
    now = now or timezone.now()
    rows = SlaClock.objects.filter(due_at__gte=period.start, due_at__lt=period.end).select_related(
        "owner", "team"
    )
    if team is not None:
        rows = rows.filter(team=team)
    if kind is not None:
        rows = rows.filter(kind=kind)
    calendars = Calendars()
    groups: dict[tuple[int | None, int | None, dt.date, str], list[SlaClock]] = defaultdict(list)
    for clock in rows:
        cal = calendars.of(clock.team)
        week = clock.due_at.astimezone(cal.tz).date()
        monday = week - dt.timedelta(days=week.weekday())
        groups[(clock.team_id, clock.owner_id, monday, clock.kind)].append(clock)
    found = [_compliance_row(key, clocks, calendars, now) for key, clocks in groups.items()]
    order = list(ClockKind)
    found.sort(
        key=lambda r: (
            r.team_name,
            r.week_start,
            order.index(r.kind),
            r.owner_name,
            r.owner_id or 0,
        )
    )
    return found


def _compliance_row(
    key: tuple[int | None, int | None, dt.date, str],
    clocks: Sequence[SlaClock],
    calendars: Calendars,
    now: dt.datetime,
) -> ComplianceRow:
    team_id, owner_id, monday, kind = key
    first = clocks[0]
    met = sum(c.outcome == ClockOutcome.MET for c in clocks)
    breached = sum(
        c.outcome == ClockOutcome.BREACHED or (c.stopped_at is None and c.due_at <= now)
        for c in clocks
    )
    running = sum(c.stopped_at is None and c.due_at > now for c in clocks)
    hours = sorted(
        business_time_between(c.started_at, c.stopped_at, calendars.of(c.team)).total_seconds()
        / 3600
        for c in clocks
        if c.stopped_at is not None and c.goal_reached
    )
    return ComplianceRow(
        team_id=team_id,
        team_name=first.team.name if first.team else "",
        owner_id=owner_id,
        owner_name=str(first.owner) if first.owner else f"{first.team} queue",
        week_start=monday,
        kind=ClockKind(kind),
        met=met,
        breached=breached,
        running=running,
        closed_otherwise=len(clocks) - met - breached - running,
        share_met=met / (met + breached) if met + breached else None,
        median_hours=statistics.median(hours) if hours else None,
        p90_hours=percentile(hours, 0.9) if hours else None,
        responses=len(hours),
    )


def percentile(ordered: Sequence[float], share: float) -> float:
    """The `share` quantile of sorted `ordered`, interpolating linearly between the closest
    ranks (as numpy's default): p90 of [1..10] is 9.1."""
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- Marketing ----------------------------------------------------------------------------------


def marketing_period(*, at: dt.datetime, agreement: AgreementInForce) -> Period:
    """The marketing SLA period (the agreement's week or month) containing `at`, in the
    hand-off's time zone: weeks run Monday 00:00 to Monday 00:00."""
    tz = ZoneInfo(agreement.body.handoff.time_zone)
    if agreement.body.slas.marketing.period == "month":
        return month_period(now=at, tz=tz)
    return week_period(now=at, tz=tz)


def marketing_period_last(*, now: dt.datetime, agreement: AgreementInForce) -> Period:
    """The latest marketing SLA period that has ended by `now`."""
    current = marketing_period(at=now, agreement=agreement)
    return marketing_period(at=current.start - dt.timedelta(microseconds=1), agreement=agreement)


def marketing_sla_results(*, limit: int = 26) -> QuerySet[MarketingSlaResult]:
    """The stored marketing SLA results, newest period first."""
    return MarketingSlaResult.objects.order_by("-period_start")[:limit]


# --- Notifications ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationRow:
    """A notification as the bell's list shows it (an SLA message's words rendered now)."""

    pk: int
    title: str
    body: str
    url: str
    created_at: dt.datetime
    read_at: dt.datetime | None


def _notifications(user: User) -> QuerySet[Notification]:
    related = [f"message__{name}" for name in MESSAGE_RELATED]
    return Notification.objects.filter(user=user).select_related(*related)


def _row(note: Notification) -> NotificationRow:
    text = words(note.message)
    return NotificationRow(
        pk=note.pk,
        title=text.subject,
        body=text.summary,
        url=text.path,
        created_at=note.created_at,
        read_at=note.read_at,
    )


def notification_list(*, user: User, limit: int = 100) -> list[NotificationRow]:
    """`user`'s notifications, newest first."""
    return [_row(n) for n in _notifications(user).order_by("-created_at", "-message")[:limit]]


def notification_get(*, user: User, notification_id: int) -> NotificationRow:
    """One of `user`'s notifications. Raises NotFound for one that is not theirs."""
    note = _notifications(user).filter(pk=notification_id).first()
    if note is None:
        raise NotFound(f"No notification {notification_id} of yours.", loc=("notification_id",))
    return _row(note)


def notification_unread_count(*, user: User) -> int:
    """How many of `user`'s notifications are unread (the badge in the header)."""
    return Notification.objects.filter(user=user, read_at__isnull=True).count()

"""The rep's inbox: their leads with the soonest running clock first, and the team's view."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from django.db.models import OuterRef, Subquery

from leadloop.accounts.models import Team, User
from leadloop.capture.models import Touch, TouchKind
from leadloop.leads.models import Lead, Stage
from leadloop.scoring.rules import engagement_now, engagement_score
from leadloop.scoring.services import engagement_rules_active
from leadloop.sla.selectors import OpenClock, open_clocks
from leadloop.sla.services import CONTACT_TOUCH_KINDS

CountdownState = Literal["green", "amber", "red", "none"]


# What a lead did: every touch but the ones sales makes (they answer the clock, they are not
# the lead's doing).
_LEAD_TOUCH_KINDS = [k for k in TouchKind if k not in CONTACT_TOUCH_KINDS]


INBOX_STAGES: Final = (Stage.MQL, Stage.SAL)


@dataclass(frozen=True)
class InboxRow:
    """One lead of an inbox: its soonest-due running clock (None: an open lead without one),
    its scores, and what it did last."""

    lead: Lead
    clock: OpenClock | None
    more_clocks: int  # other running clocks of the lead
    fit_grade: str | None  # None: not scored
    fit_score: int | None
    engagement: int | None  # 0-100 now (decayed)
    predicted_probability: float | None  # None: no active model
    last_touch: str  # "Webinar attendance"; "" when it has none
    last_touch_at: dt.datetime | None

    @property
    def state(self) -> CountdownState:
        return self.clock.state if self.clock is not None else "none"

    @property
    def holder_id(self) -> int | None:
        return self.clock.owner_id if self.clock is not None else self.lead.owner_id


@dataclass(frozen=True)
class InboxGroup:
    """A manager's view: one rep's (or the queue's) leads, soonest due first."""

    owner_id: int | None
    name: str
    rows: tuple[InboxRow, ...]

    @property
    def late(self) -> int:
        return sum(r.state == "red" for r in self.rows)


def inbox_rows(*, owner: User, now: dt.datetime) -> list[InboxRow]:
    """`owner`'s inbox: the leads they hold a running clock for, soonest due first, then their
    MQLs and SALs without a running clock, waiting longest first."""
    clocks = open_clocks(owner=owner, now=now)
    with_clock = _soonest_per_lead(clocks)
    others = (
        Lead.objects.filter(owner=owner, stage__in=INBOX_STAGES)
        .exclude(pk__in=list(with_clock))
        .order_by("stage_changed_at", "pk")
        .values_list("pk", flat=True)
    )
    return _rows([*with_clock.items(), *((pk, []) for pk in others)], now=now)


def team_inbox(*, team: Team, now: dt.datetime) -> list[InboxGroup]:
    """The running clocks of `team` (its members' and its queue's), one group per holder: the
    queue first (nobody has those leads yet), then each rep by their soonest due time."""
    rows = _rows(list(_soonest_per_lead(open_clocks(team=team, now=now)).items()), now=now)
    groups: dict[int | None, list[InboxRow]] = defaultdict(list)
    names: dict[int | None, str] = {}
    for row in rows:
        groups[row.holder_id].append(row)
        clock = row.clock
        names[row.holder_id] = clock.owner_name if clock else str(row.lead.owner or "")
    # Stable: the reps keep the order of their soonest due clock; the queue comes first.
    order = sorted(groups, key=lambda k: k is not None)
    return [InboxGroup(owner_id=k, name=names[k], rows=tuple(groups[k])) for k in order]


def inbox_row(*, lead_id: int, now: dt.datetime) -> InboxRow | None:
    """The inbox row of one lead, as its holder's inbox shows it; None when it belongs in no
    inbox any more (answered back to marketing, merged away, or won)."""
    lead = Lead.objects.select_related("owner", "queue").filter(pk=lead_id).first()
    if lead is None:
        return None
    clocks: list[OpenClock] = []
    if lead.owner is not None:
        clocks = open_clocks(owner=lead.owner, now=now)
    elif lead.queue is not None:
        clocks = open_clocks(team=lead.queue, now=now)
    mine = [c for c in clocks if c.lead_id == lead_id]
    if not mine and (lead.stage not in INBOX_STAGES or lead.owner_id is None):
        return None
    return _rows([(lead_id, mine)], now=now)[0]


def _soonest_per_lead(clocks: Sequence[OpenClock]) -> dict[int, list[OpenClock]]:
    """The clocks by lead, in the order of each lead's soonest due clock (`clocks` are sorted)."""
    found: dict[int, list[OpenClock]] = {}
    for clock in clocks:
        found.setdefault(clock.lead_id, []).append(clock)
    return found


def _rows(leads: Sequence[tuple[int, Sequence[OpenClock]]], *, now: dt.datetime) -> list[InboxRow]:
    if not leads:
        return []
    last = Touch.objects.filter(lead_id=OuterRef("pk"), kind__in=_LEAD_TOUCH_KINDS).order_by(
        "-occurred_at", "-id"
    )
    found = {
        lead.pk: lead
        for lead in Lead.objects.filter(pk__in=[pk for pk, _ in leads])
        .select_related("company", "owner", "queue", "score")
        .annotate(
            last_touch_kind=Subquery(last.values("kind")[:1]),
            last_touch_at=Subquery(last.values("occurred_at")[:1]),
        )
    }
    rules = engagement_rules_active()
    half_life, scale = (rules.half_life_days, rules.scale) if rules else (30.0, 50.0)
    rows: list[InboxRow] = []
    for pk, clocks in leads:
        lead = found.get(pk)
        if lead is None:
            continue
        score = getattr(lead, "score", None)
        kind = getattr(lead, "last_touch_kind", None)
        rows.append(
            InboxRow(
                lead=lead,
                clock=clocks[0] if clocks else None,
                more_clocks=max(0, len(clocks) - 1),
                fit_grade=score.fit_grade if score else None,
                fit_score=score.fit_score if score else None,
                engagement=(
                    engagement_score(engagement_now(score.engagement_sum, now, half_life), scale)
                    if score
                    else None
                ),
                predicted_probability=score.predicted_probability if score else None,
                last_touch=str(TouchKind(kind).label) if kind else "",
                last_touch_at=getattr(lead, "last_touch_at", None),
            )
        )
    return rows


def countdown_text(left: dt.timedelta) -> str:
    """Business time left, short: '45 min', '7.5 h'; the sign is the caller's business."""
    seconds = abs(left.total_seconds())
    if seconds < 3600:
        return f"{max(1, round(seconds / 60)) if seconds else 0} min"
    return f"{round(seconds / 3600, 1):g} h"

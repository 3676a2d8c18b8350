"""Automatic qualification: a hand-raiser touch at once, else the agreement's score
thresholds (nurtured leads only with new engagement, after any recycle hold).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q
from django.utils import timezone

from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.capture.models import Touch
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import TransitionNotAllowed
from leadloop.loop.lifecycle.handoff import lead_qualify
from leadloop.scoring.models import LeadScore

# Stages from which a lead qualifies by itself (nurture: only with new engagement).
QUALIFYING_STAGES = frozenset({Stage.SUBSCRIBER, Stage.LEAD, Stage.NURTURE})


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

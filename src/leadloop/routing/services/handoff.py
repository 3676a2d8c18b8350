"""The batched hand-off: the MQLs that waited, routed once per due time."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from leadloop.agreements.selectors import AgreementInForce
from leadloop.common.businesstime import next_weekly_time
from leadloop.routing.models import HandoffBatch
from leadloop.routing.selectors import handoff_waiting
from leadloop.routing.services.route import lead_route


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

"""Reads over a lead's history: its stage changes and touches as one timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from django.db.models import QuerySet

from leadloop.capture.models import Touch
from leadloop.lifecycle.models import StageChange


def stage_history(*, lead_id: int) -> QuerySet[StageChange]:
    """The lead's stage changes, newest first, with the acting user."""
    return StageChange.objects.filter(lead_id=lead_id).select_related("actor").order_by("-at", "-id")


def touch_history(*, lead_id: int) -> QuerySet[Touch]:
    """The lead's touches, newest first, with campaign and content offer."""
    return (
        Touch.objects.filter(lead_id=lead_id)
        .select_related("campaign", "content_offer")
        .order_by("-occurred_at", "-id")
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: Literal["touch", "stage_change"]
    touch: Touch | None = None
    stage_change: StageChange | None = None


def lead_timeline(*, lead_id: int, limit: int = 200) -> list[TimelineEntry]:
    """Touches and stage changes merged, newest first, at most `limit` of each."""
    entries = [
        TimelineEntry(at=t.occurred_at, kind="touch", touch=t)
        for t in touch_history(lead_id=lead_id)[:limit]
    ] + [
        TimelineEntry(at=c.at, kind="stage_change", stage_change=c)
        for c in stage_history(lead_id=lead_id)[:limit]
    ]
    # A stage change and the touch that caused it can share a timestamp: show the change first.
    entries.sort(key=lambda e: (e.at, e.kind == "stage_change"), reverse=True)
    return entries

"""Scores of a merged lead: the survivor's, the duplicate's history kept."""

from __future__ import annotations

from leadloop.scoring.models import EngagementCapCount, LeadScore, ScoreHistory


def scores_merge(*, survivor_id: int, duplicate_id: int) -> list[int]:
    """Before ``lead_merge`` deletes the duplicate: its score history moves to the survivor
    (the moved ids are returned), its score and both leads' cap counts go (a rescore of the
    survivor, after the touches moved, rebuilds them)."""
    rows = ScoreHistory.objects.filter(lead_id=duplicate_id)
    ids = sorted(rows.values_list("pk", flat=True))
    ScoreHistory.objects.filter(pk__in=ids).update(lead_id=survivor_id)
    LeadScore.objects.filter(lead_id=duplicate_id).delete()
    EngagementCapCount.objects.filter(lead_id__in=(survivor_id, duplicate_id)).delete()
    return ids

"""Whether scores qualify a lead under the agreement's thresholds, and the score history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from leadloop.scoring.models import LeadScore, QualifyThresholds, ScoreHistory
from leadloop.scoring.rules import engagement_now, engagement_score
from leadloop.scoring.services.active import GRADES, EngagementRules


@dataclass(frozen=True)
class QualifyGroup:
    """One group of score thresholds; a lead meets it when every set condition holds."""

    fit_grade_min: str | None = None
    engagement_min: int | None = None
    predicted_min: float | None = None

    def holds(self, fit_grade: str, engagement: int, predicted: float | None) -> bool:
        if self.fit_grade_min is not None and _grade_rank(fit_grade) > _grade_rank(
            self.fit_grade_min
        ):
            return False
        if self.engagement_min is not None and engagement < self.engagement_min:
            return False
        return self.predicted_min is None or (
            predicted is not None and predicted >= self.predicted_min
        )


def _grade_rank(grade: str) -> int:
    """0 for A, 3 for D; an unknown grade ranks below D."""
    return GRADES.index(grade) if grade in GRADES else len(GRADES)


def qualify_groups() -> tuple[QualifyGroup, ...]:
    """The score thresholds in force: the agreement's groups (``QualifyThresholds``, one
    query), else one group from LEADLOOP_QUALIFY_FIT and LEADLOOP_QUALIFY_ENGAGEMENT."""
    stored = QualifyThresholds.objects.filter(pk=1).values_list("groups", flat=True).first()
    return qualify_groups_of(stored)


def qualify_groups_of(stored: Any) -> tuple[QualifyGroup, ...]:
    """The groups of the stored ``QualifyThresholds.groups`` (None: no row, the settings)."""
    if stored is None:
        return (
            QualifyGroup(
                fit_grade_min=getattr(settings, "LEADLOOP_QUALIFY_FIT", "B"),
                engagement_min=getattr(settings, "LEADLOOP_QUALIFY_ENGAGEMENT", 40),
            ),
        )
    return tuple(
        QualifyGroup(
            fit_grade_min=g.get("fit_grade_min"),
            engagement_min=g.get("engagement_min"),
            predicted_min=g.get("predicted_min"),
        )
        for g in stored
        if isinstance(g, dict)
    )


def qualifies(
    fit_grade: str,
    engagement: int,
    predicted: float | None,
    *,
    groups: Sequence[QualifyGroup] | None = None,
) -> bool:
    """Whether scores meet the thresholds: any group holds (no group: never). Pass `groups`
    (``qualify_groups()``, read once) when deciding for many leads."""
    chosen = qualify_groups() if groups is None else groups
    return any(g.holds(fit_grade, engagement, predicted) for g in chosen)


@dataclass(frozen=True)
class Snapshot:
    fit: int
    grade: str
    engagement: int
    predicted: float | None

    def moved(self, other: Snapshot) -> bool:
        """A score moved by at least one point, or the grade changed."""
        p1 = round((self.predicted or 0) * 100)
        p2 = round((other.predicted or 0) * 100)
        return (
            abs(self.fit - other.fit) >= 1
            or self.grade != other.grade
            or abs(self.engagement - other.engagement) >= 1
            or abs(p1 - p2) >= 1
            or (self.predicted is None) != (other.predicted is None)
        )


def snapshot(score: LeadScore, *, at: dt.datetime, eng: EngagementRules | None) -> Snapshot:
    h, k = (eng.half_life_days, eng.scale) if eng else (30.0, 50.0)
    return Snapshot(
        fit=score.fit_score,
        grade=score.fit_grade,
        engagement=engagement_score(engagement_now(score.engagement_sum, at, h), k),
        predicted=score.predicted_probability,
    )


def history_row(score: LeadScore, snap: Snapshot, *, at: dt.datetime, cause: str) -> ScoreHistory:
    return ScoreHistory(
        lead_id=score.lead_id,
        at=at,
        fit_score=snap.fit,
        engagement_score=snap.engagement,
        predicted_probability=score.predicted_probability,
        cause=cause[:200],
    )

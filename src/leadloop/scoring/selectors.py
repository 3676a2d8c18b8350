"""Scoring's reads: a lead's three scores with reasons and moves, its history, the versions.

The lead page, its chart and ``GET /api/v1/leads/{id}`` all call these, so they agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from leadloop.leads.models import Lead
from leadloop.scoring.models import (
    EngagementRuleSet,
    FitRuleSet,
    LeadScore,
    ScoreHistory,
)
from leadloop.scoring.rules import (
    Reason,
    engagement_moves,
    engagement_now,
    engagement_reasons_at,
    engagement_score,
    fit_moves,
    fit_rule_matches,
    recency_note,
)
from leadloop.scoring.services import engagement_rules_active, fit_values, rules_active

TOP_REASONS = 4


@dataclass(frozen=True)
class LeadScores:
    scored: bool  # False: never scored (no rules active, or not scored yet)
    fit_score: int = 0
    fit_grade: str = "D"
    fit_version: int | None = None
    fit_reasons: list[Reason] = field(default_factory=list)
    fit_moves: list[Reason] = field(default_factory=list)
    engagement_score: int = 0
    engagement_version: int | None = None
    engagement_reasons: list[Reason] = field(default_factory=list)
    engagement_moves: list[Reason] = field(default_factory=list)
    half_life_days: float = 30.0
    last_touch_at: dt.datetime | None = None
    predicted_probability: float | None = None
    predicted_version: int | None = None
    predicted_reasons: list[Reason] = field(default_factory=list)
    qualifies: bool = False
    updated_at: dt.datetime | None = None


def engagement_current(score: LeadScore, *, at: dt.datetime | None = None) -> int:
    """The engagement score now (derived from the epoch sum) under the active half-life."""
    eng = engagement_rules_active()
    h, k = (eng.half_life_days, eng.scale) if eng else (30.0, 50.0)
    return engagement_score(engagement_now(score.engagement_sum, at or timezone.now(), h), k)


def lead_scores(*, lead: Lead, at: dt.datetime | None = None) -> LeadScores:
    """The lead's scores as of `at` (default now) with their top reasons and what would move
    them. Engagement is derived at `at`: it decays between touches without any write."""
    score = LeadScore.objects.filter(lead_id=lead.pk).first()
    if score is None:
        return LeadScores(scored=False)
    at = at or timezone.now()
    fit, eng = rules_active()
    h, k = (eng.half_life_days, eng.scale) if eng else (30.0, 50.0)
    decayed = engagement_now(score.engagement_sum, at, h)
    e_reasons = engagement_reasons_at(score.engagement_reasons, at=at, half_life_days=h)
    note = recency_note(score.engagement_sum, score.last_touch_at, at=at, rules_h=h, k=k)
    moves_fit: list[Reason] = []
    if fit is not None:
        values = fit_values(lead, fit)
        matched = [
            i for i, r in enumerate(fit.rules) if fit_rule_matches(r, values.get(r.attribute))
        ]
        moves_fit = fit_moves(fit.rules, matched)
    return LeadScores(
        scored=True,
        fit_score=score.fit_score,
        fit_grade=score.fit_grade,
        fit_version=score.fit_version,
        fit_reasons=[_reason(r) for r in score.fit_reasons][:TOP_REASONS],
        fit_moves=moves_fit,
        engagement_score=engagement_score(decayed, k),
        engagement_version=score.engagement_version,
        engagement_reasons=(e_reasons[: TOP_REASONS - 1] + ([note] if note else []))
        if note
        else e_reasons[:TOP_REASONS],
        engagement_moves=engagement_moves(eng.rules, decayed, k=k) if eng else [],
        half_life_days=h,
        last_touch_at=score.last_touch_at,
        predicted_probability=score.predicted_probability,
        predicted_version=score.predicted_version,
        predicted_reasons=[_reason(r) for r in score.predicted_reasons][:TOP_REASONS],
        qualifies=score.qualifies,
        updated_at=score.updated_at,
    )


def _reason(value: Any) -> Reason:
    if isinstance(value, dict):
        return Reason(points=int(value.get("points", 0)), text=str(value.get("text", "")))
    return Reason(points=0, text=str(value))


@dataclass(frozen=True)
class HistoryPoint:
    at: str  # ISO 8601
    fit: int
    engagement: int
    predicted: int | None  # percent
    cause: str


def score_history(*, lead_id: int, limit: int = 500) -> list[HistoryPoint]:
    """The lead's score history, oldest first (the chart's and the API's data)."""
    rows = ScoreHistory.objects.filter(lead_id=lead_id).order_by("-at", "-id")[:limit]
    return [
        HistoryPoint(
            at=r.at.isoformat(),
            fit=r.fit_score,
            engagement=r.engagement_score,
            predicted=None
            if r.predicted_probability is None
            else round(r.predicted_probability * 100),
            cause=r.cause,
        )
        for r in reversed(list(rows))
    ]


def fit_rulesets() -> QuerySet[FitRuleSet]:
    """Every fit rule set version, newest first, with who made it."""
    return FitRuleSet.objects.select_related("created_by").prefetch_related("rules")


def engagement_rulesets() -> QuerySet[EngagementRuleSet]:
    """Every engagement rule set version, newest first, with who made it."""
    return EngagementRuleSet.objects.select_related("created_by").prefetch_related("rules")

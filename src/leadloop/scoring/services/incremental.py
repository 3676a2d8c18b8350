"""Incremental scoring: each new touch adds its decayed points (daily caps counted), fit is
recomputed only for new or changed leads, a history row when a score moves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from django.db import transaction
from django.utils import timezone

from leadloop.capture.models import Touch
from leadloop.leads.models import Lead
from leadloop.scoring.models import LeadScore, ScoreHistory
from leadloop.scoring.rules import (
    EngagementRuleData,
    TouchFacts,
    engagement_reasons_merge,
    engagement_terms,
    fit_evaluate,
)
from leadloop.scoring.services.active import EngagementRules, FitRules, fit_values, rules_active
from leadloop.scoring.services.caps import cap_counted, touch_cause
from leadloop.scoring.services.hot import NOT_SCORED, touch_score
from leadloop.scoring.services.qualify import history_row, qualifies, qualify_groups, snapshot


def _facts(row: Mapping[str, Any]) -> TouchFacts:
    return TouchFacts(
        kind=row["kind"],
        occurred_at=row["occurred_at"],
        channel=row["channel"] or "",
        campaign_id=row["campaign_id"],
        content_offer_id=row["content_offer_id"],
        url=row["landing_page"] or "",
        properties=row["properties"] if isinstance(row["properties"], dict) else {},
    )


_TOUCH_COLUMNS: Final = (
    "id",
    "lead_id",
    "kind",
    "channel",
    "campaign_id",
    "content_offer_id",
    "landing_page",
    "properties",
    "occurred_at",
)


def _score_new(lead_id: int, fit: FitRules | None, eng: EngagementRules | None) -> LeadScore:
    return LeadScore(
        lead_id=lead_id,
        fit_version=fit.version if fit else None,
        engagement_version=eng.version if eng else None,
    )


def _fit_apply(scores: Mapping[int, LeadScore], lead_ids: Iterable[int], fit: FitRules) -> None:
    leads = Lead.objects.select_related("company").in_bulk(list(lead_ids))
    for lead_id, lead in leads.items():
        result = fit_evaluate(fit.rules, fit_values(lead, fit), grades=fit.grades)
        score = scores[lead_id]
        score.fit_score, score.fit_grade = result.score, result.grade
        score.fit_reasons = list(result.reasons)
        score.fit_version = fit.version


@transaction.atomic
def scores_touches_record(
    *,
    touch_ids: Sequence[int] = (),
    touches: Sequence[Touch] = (),
    refit_lead_ids: Iterable[int] = (),
    cause: str = "",
) -> dict[int, LeadScore]:
    """Add newly recorded touches to their leads' engagement sums (one term per matching rule,
    caps respected) and recompute fit for leads new to scoring or in `refit_lead_ids`.

    O(1) work per touch: the touches are never summed again. Writes one ScoreHistory row per
    lead whose fit, grade or engagement moved by a point. Returns the leads' scores.
    """
    fit, eng = rules_active()
    if fit is None and eng is None:
        return {}
    rows: list[dict[str, Any]] = [{c: getattr(t, c) for c in _TOUCH_COLUMNS} for t in touches]
    if touch_ids:
        rows += list(Touch.objects.filter(pk__in=touch_ids).values(*_TOUCH_COLUMNS))
    rows.sort(key=lambda r: r["occurred_at"])
    by_lead: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_lead[row["lead_id"]].append(row)
    refit = set(refit_lead_ids)
    lead_ids = sorted(set(by_lead) | refit)
    if not lead_ids:
        return {}
    now = timezone.now()
    # Lock the score rows (PostgreSQL) so two writers add to a sum one after the other.
    scores = LeadScore.objects.select_for_update().in_bulk(lead_ids)
    before = {pk: snapshot(s, at=now, eng=eng) for pk, s in scores.items()}
    fresh = [pk for pk in lead_ids if pk not in scores]
    for pk in fresh:
        scores[pk] = _score_new(pk, fit, eng)
    if fit is not None and (refit or fresh):
        _fit_apply(scores, refit | set(fresh), fit)
    for lead_id, lead_rows in by_lead.items():
        if eng is not None:
            _engagement_add(scores[lead_id], lead_rows, eng)
        last = lead_rows[-1]["occurred_at"]
        score = scores[lead_id]
        score.last_touch_at = max(score.last_touch_at or last, last)
    history: list[ScoreHistory] = []
    groups = qualify_groups()  # once per batch
    for lead_id in lead_ids:
        score = scores[lead_id]
        snap = snapshot(score, at=now, eng=eng)
        score.qualifies = qualifies(snap.grade, snap.engagement, snap.predicted, groups=groups)
        score.updated_at = now
        old = before.get(lead_id)
        if old is None or snap.moved(old):
            kinds = [r["kind"] for r in by_lead.get(lead_id, [])]
            why = cause or (touch_cause(kinds) if kinds else "lead details changed")
            history.append(history_row(score, snap, at=now, cause=why))
    _scores_save(scores, fresh=set(fresh))
    if history:
        ScoreHistory.objects.bulk_create(history)
    return scores


def _engagement_add(
    score: LeadScore, rows: Sequence[Mapping[str, Any]], eng: EngagementRules
) -> None:
    added: list[tuple[EngagementRuleData, float]] = []
    pending = frozenset(row["id"] for row in rows)
    for row in rows:
        facts = _facts(row)
        for rule, term in engagement_terms(eng.rules, facts, eng.half_life_days):
            if rule.daily_cap is not None and not cap_counted(
                lead_id=score.lead_id, rule=rule, facts=facts, pending=pending
            ):
                continue
            added.append((rule, term))
    if added:
        score.engagement_sum += sum(term for _r, term in added)
        score.engagement_reasons = engagement_reasons_merge(score.engagement_reasons, added)
    score.engagement_version = eng.version


_SAVED_FIELDS: Final = [
    "fit_score",
    "fit_grade",
    "fit_version",
    "fit_reasons",
    "engagement_sum",
    "engagement_version",
    "engagement_reasons",
    "last_touch_at",
    "qualifies",
    "updated_at",
]


def _scores_save(scores: Mapping[int, LeadScore], *, fresh: set[int]) -> None:
    new = [s for pk, s in scores.items() if pk in fresh]
    old = [s for pk, s in scores.items() if pk not in fresh]
    if new:
        LeadScore.objects.bulk_create(new)
    if len(old) == 1:
        old[0].save(update_fields=_SAVED_FIELDS)
    elif old:
        LeadScore.objects.bulk_update(old, _SAVED_FIELDS)


def scores_capture(*, lead: Lead, touch: Touch | None, lead_changed: bool) -> LeadScore | None:
    """Score what ``loop.lead_capture`` recorded: the new touch (if any) and, when the lead
    was created or changed, its fit. Returns the lead's score (None without active rules).

    A known, unchanged lead's new touch - most captures - takes the hot path
    (``touch_score``): the same result as ``scores_touches_record`` in two to five
    statements. A lead new to scoring or changed takes ``scores_touches_record``.
    """
    if touch is None and not lead_changed:
        return None
    if touch is not None and not lead_changed:
        scored = touch_score(lead_id=lead.pk, touch=touch)
        if scored is not NOT_SCORED:
            return scored
    scores = scores_touches_record(
        touches=[touch] if touch is not None else [],
        refit_lead_ids=[lead.pk] if lead_changed else [],
    )
    return scores.get(lead.pk)

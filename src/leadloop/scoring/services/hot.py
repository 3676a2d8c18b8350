"""The hot path: one touch of a lead that has scores, in three to five plain SQL statements."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any, Final

from django.db import connection, transaction
from django.utils import timezone

from leadloop.capture.models import Touch
from leadloop.scoring.models import (
    EngagementCapCount,
    EngagementRuleSet,
    FitRuleSet,
    LeadScore,
    QualifyThresholds,
    ScoreHistory,
)
from leadloop.scoring.rules import (
    TouchFacts,
    day_start,
    engagement_reasons_merge,
    engagement_terms,
)
from leadloop.scoring.services.active import ENGAGEMENT_RULES_CACHE, engagement_rules_of
from leadloop.scoring.services.caps import cap_take, touch_cause
from leadloop.scoring.services.qualify import history_row, qualifies, qualify_groups_of, snapshot

NOT_SCORED: Final[Any] = object()  # the lead has no score row yet: the general path scores it


@functools.cache
def _hot_sql(vendor: str, caps: int) -> str:
    """One statement that reads, for one lead, all a touch needs: the active rule set ids and
    the qualification thresholds (fresh: no cache to go stale), the day's count of each of the
    `caps` capped rules the touch matches, and the score row (locked on PostgreSQL)."""
    cap_table = EngagementCapCount._meta.db_table
    columns = ", ".join(f"s.{f.column}" for f in LeadScore._meta.concrete_fields)
    cap = f"(SELECT count FROM {cap_table} WHERE lead_id = %s AND rule_id = %s AND day = %s)"
    return (
        f"SELECT (SELECT id FROM {FitRuleSet._meta.db_table} WHERE is_active), "
        f"(SELECT id FROM {EngagementRuleSet._meta.db_table} WHERE is_active), "
        f"(SELECT groups FROM {QualifyThresholds._meta.db_table} WHERE id = 1), "
        + "".join(f"{cap}, " for _ in range(caps))
        + f"{columns} FROM {LeadScore._meta.db_table} s WHERE s.lead_id = %s"
        + (" FOR UPDATE" if vendor == "postgresql" else "")
    )


@functools.cache
def _hot_update_sql(vendor: str) -> str:
    """The UPDATE of `_HOT_SAVED`, in the model's field order."""
    set_ = ", ".join(
        f"{f.column} = %s" for f in LeadScore._meta.concrete_fields if f.attname in _HOT_SAVED
    )
    return f"UPDATE {LeadScore._meta.db_table} SET {set_} WHERE lead_id = %s"


@functools.cache
def _history_sql(vendor: str) -> str:
    return (
        f"INSERT INTO {ScoreHistory._meta.db_table} (lead_id, at, fit_score, engagement_score, "
        "predicted_probability, cause) VALUES (%s, %s, %s, %s, %s, %s)"
    )


# What a touch changes on a known lead (the fit columns stay: the lead did not change).
_HOT_SAVED: Final = (
    "engagement_sum",
    "engagement_version",
    "engagement_reasons",
    "last_touch_at",
    "qualifies",
    "updated_at",
)


def _score_from_row(values: Sequence[Any]) -> LeadScore:
    """A LeadScore from its columns as the database returned them, converted the ORM's way."""
    converted: list[Any] = []
    for (col, converters), value in zip(_score_converters(connection.vendor), values, strict=True):
        for convert in converters:
            value = convert(value, col, connection)
        converted.append(value)
    return LeadScore.from_db(connection.alias, _SCORE_ATTNAMES, converted)


_SCORE_ATTNAMES: Final = [f.attname for f in LeadScore._meta.concrete_fields]


@functools.cache
def _score_converters(vendor: str) -> list[tuple[Any, list[Any]]]:
    """Per column of LeadScore, the backend's and the field's converters (as the compiler
    finds them for a query), looked up once per process."""
    out: list[tuple[Any, list[Any]]] = []
    for f in LeadScore._meta.concrete_fields:
        col = f.get_col(LeadScore._meta.db_table)
        out.append((col, connection.ops.get_db_converters(col) + f.get_db_converters(connection)))
    return out


def touch_score(*, lead_id: int, touch: Touch) -> LeadScore | None:
    """``scores_touches_record(touches=[touch])`` for a lead that has a score row, in fewer
    statements: one read (``_hot_sql``), the capped rules' day counts written, the score row
    updated, a history row when a score moved. Returns ``NOT_SCORED`` without a score row.

    The touch's capped rules are matched before the read, with the engagement rules that were
    active at the previous touch (when still cached); when the read finds other rules active,
    it reads again.
    """
    facts = TouchFacts(
        kind=touch.kind,
        occurred_at=touch.occurred_at,
        channel=touch.channel or "",
        campaign_id=touch.campaign_id,
        content_offer_id=touch.content_offer_id,
        url=touch.landing_page or "",
        properties=touch.properties if isinstance(touch.properties, dict) else {},
    )
    day = day_start(facts.occurred_at)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        hint = _hot_last_engagement_id  # a guess, used only while its rules are cached
        eng = ENGAGEMENT_RULES_CACHE.get(hint) if hint is not None else None
        eng_id = eng.ruleset_id if eng is not None else None
        for _attempt in range(2):
            terms = engagement_terms(eng.rules, facts, eng.half_life_days) if eng else []
            capped = [rule for rule, _term in terms if rule.daily_cap is not None]
            params: list[Any] = []
            for rule in capped:
                params += [lead_id, rule.id, day.date().isoformat()]
            cursor.execute(_hot_sql(connection.vendor, len(capped)), [*params, lead_id])
            row = cursor.fetchone()
            if row is None:
                return NOT_SCORED
            if row[1] == eng_id:
                break
            eng_id = _hot_remember(row[1])
            eng = engagement_rules_of(eng_id) if eng_id is not None else None
        else:  # pragma: no cover - the rules changed between two reads of one touch
            return NOT_SCORED
        fit_id, groups = row[0], row[2]
        if fit_id is None and eng is None:
            return None
        counts = row[3 : 3 + len(capped)]
        score = _score_from_row(row[3 + len(capped) :])
        now = timezone.now()
        before = snapshot(score, at=now, eng=eng)
        if eng is not None:
            count_of = {rule.id: n for rule, n in zip(capped, counts, strict=True)}
            pending = frozenset({touch.pk})
            added = [
                (rule, term)
                for rule, term in terms
                if rule.daily_cap is None
                or cap_take(
                    lead_id=lead_id, rule=rule, day=day, count=count_of[rule.id], pending=pending
                )
            ]
            if added:
                score.engagement_sum += sum(term for _r, term in added)
                score.engagement_reasons = engagement_reasons_merge(score.engagement_reasons, added)
            score.engagement_version = eng.version
        last = facts.occurred_at
        score.last_touch_at = max(score.last_touch_at or last, last)
        snap = snapshot(score, at=now, eng=eng)
        if isinstance(groups, str):
            groups = json.loads(groups)
        score.qualifies = qualifies(
            snap.grade, snap.engagement, snap.predicted, groups=qualify_groups_of(groups)
        )
        score.updated_at = now
        saved = [
            f.get_db_prep_save(getattr(score, f.attname), connection)
            for f in LeadScore._meta.concrete_fields
            if f.attname in _HOT_SAVED
        ]
        cursor.execute(_hot_update_sql(connection.vendor), [*saved, lead_id])
        if snap.moved(before):
            history = history_row(score, snap, at=now, cause=touch_cause([facts.kind]))
            cursor.execute(
                _history_sql(connection.vendor),
                [
                    lead_id,
                    connection.ops.adapt_datetimefield_value(history.at),
                    history.fit_score,
                    history.engagement_score,
                    history.predicted_probability,
                    history.cause,
                ],
            )
    return score


_hot_last_engagement_id: int | None = None


def _hot_remember(eng_id: int | None) -> int | None:
    global _hot_last_engagement_id
    _hot_last_engagement_id = eng_id
    return eng_id

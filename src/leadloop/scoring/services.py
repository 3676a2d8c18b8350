"""Scoring's writes: rule set versions, incremental scores per touch, the default rules.

    a touch is recorded (loop) -> scores_capture / scores_touches_record: O(1) per touch,
        S += pᵢ·2^((tᵢ - t₀)/h) per matching rule (daily caps via EngagementCapCount),
        fit recomputed only for new or changed leads, ScoreHistory when a score moves
    a rule set is edited -> *_ruleset_create (copy + change, a new version) -> *_ruleset_activate
        -> the rescore task (scoring.tasks.rescore_all) -> scoring.rescore.scores_rescore

Rule sets are immutable once created: a version's rules never change, so they are cached by
the rule set's id (for a few seconds: common.cache; an id can come back on SQLite).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.capture.models import Touch, TouchKind
from leadloop.common.cache import ProcessCache
from leadloop.common.errors import LeadloopError, NotFound
from leadloop.leads.models import AttributeDefinition, Lead
from leadloop.scoring.models import (
    EngagementCapCount,
    EngagementRule,
    EngagementRuleSet,
    FitRule,
    FitRuleSet,
    LeadScore,
    Operator,
    QualifyThresholds,
    ScoreHistory,
)
from leadloop.scoring.rules import (
    MIN_HALF_LIFE_DAYS,
    EngagementRuleData,
    FitRuleData,
    TouchFacts,
    day_start,
    engagement_now,
    engagement_reasons_merge,
    engagement_score,
    engagement_terms,
    fit_evaluate,
)

GRADES: Final = ("A", "B", "C", "D")
LEAD_FIELDS: Final = frozenset(
    {"title", "seniority", "country", "source", "source_detail", "stage", "email", "phone"}
)
COMPANY_FIELDS: Final = frozenset(
    {"sector", "employee_count", "country", "annual_revenue", "domain", "name"}
)


class RuleInvalid(LeadloopError):
    code = "rule_invalid"


class RuleSetMissing(NotFound):
    code = "ruleset_missing"


# --- Active rules, cached by version ---------------------------------------------------------


@dataclass(frozen=True)
class FitRules:
    ruleset_id: int
    version: int
    rules: tuple[FitRuleData, ...]
    grades: tuple[int, int, int]

    @property
    def lead_fields(self) -> set[str]:
        return {r.attribute.split(".", 1)[1] for r in self.rules if r.attribute.startswith("lead.")}

    @property
    def company_fields(self) -> set[str]:
        return {
            r.attribute.split(".", 1)[1] for r in self.rules if r.attribute.startswith("company.")
        }

    @property
    def uses_attributes(self) -> bool:
        return any(r.attribute.startswith("attributes.") for r in self.rules)


@dataclass(frozen=True)
class EngagementRules:
    ruleset_id: int
    version: int
    half_life_days: float
    scale: float
    rules: tuple[EngagementRuleData, ...]


# A version's rules never change, but its id can come back on SQLite (a rolled-back version's
# id is reused), so they are kept like other settings rows: a few seconds, cleared by
# process_caches_clear (common.cache).
_FIT_RULES: ProcessCache[FitRules] = ProcessCache("fit rules by rule set id")
_ENGAGEMENT_RULES: ProcessCache[EngagementRules] = ProcessCache("engagement rules by rule set id")


def _fit_rules(ruleset_id: int) -> FitRules:
    cached = _FIT_RULES.get(ruleset_id)
    return cached if cached is not None else _FIT_RULES.set(_fit_rules_read(ruleset_id), ruleset_id)


def _engagement_rules(ruleset_id: int) -> EngagementRules:
    cached = _ENGAGEMENT_RULES.get(ruleset_id)
    if cached is not None:
        return cached
    return _ENGAGEMENT_RULES.set(_engagement_rules_read(ruleset_id), ruleset_id)


def _fit_rules_read(ruleset_id: int) -> FitRules:
    ruleset = FitRuleSet.objects.get(pk=ruleset_id)
    types = dict(AttributeDefinition.objects.values_list("key", "type"))
    rules = tuple(
        FitRuleData(
            attribute=r.attribute,
            operator=r.operator,
            value=r.value,
            points=r.points,
            label=r.label,
            attr_type=types.get(r.attribute.removeprefix("attributes."), "text")
            if r.attribute.startswith("attributes.")
            else (
                "number"
                if r.attribute in ("company.employee_count", "company.annual_revenue")
                else "text"
            ),
        )
        for r in ruleset.rules.all()
    )
    return FitRules(
        ruleset.pk, ruleset.version, rules, (ruleset.grade_a, ruleset.grade_b, ruleset.grade_c)
    )


def _engagement_rules_read(ruleset_id: int) -> EngagementRules:
    ruleset = EngagementRuleSet.objects.get(pk=ruleset_id)
    rules = tuple(
        EngagementRuleData(
            id=r.pk,
            points=r.points,
            touch_kind=r.touch_kind,
            channel=r.channel,
            campaign_id=r.campaign_id,
            content_offer_id=r.content_offer_id,
            url_contains=r.url_contains,
            property_equals=dict(r.property_equals or {}),
            daily_cap=r.daily_cap,
            label=r.label,
        )
        for r in ruleset.rules.all()
    )
    return EngagementRules(
        ruleset.pk, ruleset.version, ruleset.half_life_days, ruleset.scale, rules
    )


def rules_active() -> tuple[FitRules | None, EngagementRules | None]:
    """Both active rule sets, found with one small query (the hot path runs it per touch)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 0, id FROM {FitRuleSet._meta.db_table} WHERE is_active "
            f"UNION ALL SELECT 1, id FROM {EngagementRuleSet._meta.db_table} WHERE is_active"
        )
        found = dict(cursor.fetchall())
    return (
        _fit_rules(found[0]) if 0 in found else None,
        _engagement_rules(found[1]) if 1 in found else None,
    )


def fit_rules_active() -> FitRules | None:
    """The active fit rules, or None when no version is active."""
    pk = FitRuleSet.objects.filter(is_active=True).values_list("pk", flat=True).first()
    return _fit_rules(pk) if pk is not None else None


def engagement_rules_active() -> EngagementRules | None:
    """The active engagement rules, or None when no version is active."""
    pk = EngagementRuleSet.objects.filter(is_active=True).values_list("pk", flat=True).first()
    return _engagement_rules(pk) if pk is not None else None


def fit_values(lead: Lead, fit: FitRules) -> dict[str, Any]:
    """The lead's values of every attribute the rules name."""
    values: dict[str, Any] = {}
    company = lead.company
    attributes = lead.attributes if isinstance(lead.attributes, dict) else {}
    for rule in fit.rules:
        scope, _, name = rule.attribute.partition(".")
        if scope == "lead":
            values[rule.attribute] = getattr(lead, name, None)
        elif scope == "company":
            values[rule.attribute] = getattr(company, name, None) if company else None
        elif scope == "attributes":
            values[rule.attribute] = attributes.get(name)
    return values


# --- Qualification and history --------------------------------------------------------------


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
    return _qualify_groups_of(stored)


def _qualify_groups_of(stored: Any) -> tuple[QualifyGroup, ...]:
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


def _history(score: LeadScore, snap: Snapshot, *, at: dt.datetime, cause: str) -> ScoreHistory:
    return ScoreHistory(
        lead_id=score.lead_id,
        at=at,
        fit_score=snap.fit,
        engagement_score=snap.engagement,
        predicted_probability=score.predicted_probability,
        cause=cause[:200],
    )


# --- Incremental scoring --------------------------------------------------------------------


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


@functools.cache
def _touch_kind_labels() -> dict[str, Any]:
    return dict(TouchKind.choices)  # lazy labels: worded in the active language when used


def _touch_cause(kinds: Sequence[str]) -> str:
    labels = _touch_kind_labels()
    if len(kinds) == 1:
        return f"touch: {labels.get(kinds[0], kinds[0])}"
    return f"{len(kinds)} touches, last: {labels.get(kinds[-1], kinds[-1])}"


def _cap_counted(
    *, lead_id: int, rule: EngagementRuleData, facts: TouchFacts, pending: frozenset[int]
) -> bool:
    """Count one more touch of `rule` on the touch's day unless the cap is reached.

    The row caches how many of the day's touches the rule counted; a day without a row (a
    full rescore writes none) is counted from the lead's touches of that day first, leaving
    out the `pending` ones (recorded already, being added now). Plain SQL: this runs per touch,
    under the lead's score row lock.
    """
    day = day_start(facts.occurred_at)
    table = EngagementCapCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count FROM {table} WHERE lead_id = %s AND rule_id = %s AND day = %s",
            [lead_id, rule.id, day.date().isoformat()],
        )
        row = cursor.fetchone()
    return _cap_take(
        lead_id=lead_id, rule=rule, day=day, count=row[0] if row else None, pending=pending
    )


def _cap_take(
    *,
    lead_id: int,
    rule: EngagementRuleData,
    day: dt.datetime,
    count: int | None,
    pending: frozenset[int],
) -> bool:
    """``_cap_counted`` once the day's row was read: `count` is its count, None without one."""
    assert rule.daily_cap is not None
    table = EngagementCapCount._meta.db_table
    key: list[Any] = [lead_id, rule.id, day.date().isoformat()]
    with connection.cursor() as cursor:
        if count is not None:
            if count >= rule.daily_cap:
                return False
            cursor.execute(
                f"UPDATE {table} SET count = count + 1 "
                "WHERE lead_id = %s AND rule_id = %s AND day = %s",
                key,
            )
            return True
        counted = min(_day_matches(lead_id, rule, day, pending), rule.daily_cap)
        cursor.execute(
            f"INSERT INTO {table} (lead_id, rule_id, day, count) VALUES (%s, %s, %s, %s)",
            [*key, min(counted + 1, rule.daily_cap)],
        )
    return counted < rule.daily_cap


def _day_matches(
    lead_id: int, rule: EngagementRuleData, day: dt.datetime, pending: frozenset[int]
) -> int:
    """How many of the lead's touches on `day` (other than `pending`) match `rule`."""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, kind, channel, campaign_id, content_offer_id, landing_page, properties "
            f"FROM {Touch._meta.db_table} WHERE lead_id = %s AND occurred_at >= %s "
            "AND occurred_at < %s",
            [lead_id, adapt(day), adapt(day + dt.timedelta(days=1))],
        )
        rows = cursor.fetchall()
    found = 0
    for pk, kind, channel, campaign, offer, url, props in rows:
        if pk in pending:
            continue
        properties = json.loads(props) if isinstance(props, str) else (props or {})
        facts = TouchFacts(
            kind=kind,
            occurred_at=day,
            channel=channel or "",
            campaign_id=campaign,
            content_offer_id=offer,
            url=url or "",
            properties=properties if isinstance(properties, dict) else {},
        )
        found += rule.matches(facts)
    return found


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
            why = cause or (_touch_cause(kinds) if kinds else "lead details changed")
            history.append(_history(score, snap, at=now, cause=why))
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
            if rule.daily_cap is not None and not _cap_counted(
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
    (``_touch_score``): the same result as ``scores_touches_record`` in two to five
    statements. A lead new to scoring or changed takes ``scores_touches_record``.
    """
    if touch is None and not lead_changed:
        return None
    if touch is not None and not lead_changed:
        scored = _touch_score(lead_id=lead.pk, touch=touch)
        if scored is not _NOT_SCORED:
            return scored
    scores = scores_touches_record(
        touches=[touch] if touch is not None else [],
        refit_lead_ids=[lead.pk] if lead_changed else [],
    )
    return scores.get(lead.pk)


# --- The hot path: one touch of a lead that has scores ---------------------------------------

_NOT_SCORED: Final[Any] = object()  # the lead has no score row yet: the general path scores it


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


def _touch_score(*, lead_id: int, touch: Touch) -> LeadScore | None:
    """``scores_touches_record(touches=[touch])`` for a lead that has a score row, in fewer
    statements: one read (``_hot_sql``), the capped rules' day counts written, the score row
    updated, a history row when a score moved. Returns ``_NOT_SCORED`` without a score row.

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
        eng = _ENGAGEMENT_RULES.get(hint) if hint is not None else None
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
                return _NOT_SCORED
            if row[1] == eng_id:
                break
            eng_id = _hot_remember(row[1])
            eng = _engagement_rules(eng_id) if eng_id is not None else None
        else:  # pragma: no cover - the rules changed between two reads of one touch
            return _NOT_SCORED
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
                or _cap_take(
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
            snap.grade, snap.engagement, snap.predicted, groups=_qualify_groups_of(groups)
        )
        score.updated_at = now
        saved = [
            f.get_db_prep_save(getattr(score, f.attname), connection)
            for f in LeadScore._meta.concrete_fields
            if f.attname in _HOT_SAVED
        ]
        cursor.execute(_hot_update_sql(connection.vendor), [*saved, lead_id])
        if snap.moved(before):
            history = _history(score, snap, at=now, cause=_touch_cause([facts.kind]))
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


# --- Rule sets: versions --------------------------------------------------------------------


def _check_attribute(attribute: str, loc: tuple[str | int, ...]) -> None:
    scope, _, name = attribute.partition(".")
    ok = (
        (scope == "lead" and name in LEAD_FIELDS)
        or (scope == "company" and name in COMPANY_FIELDS)
        or (scope == "attributes" and bool(name))
    )
    if not ok:
        raise RuleInvalid(
            f"Attribute {attribute!r} is unknown: use lead.<{'|'.join(sorted(LEAD_FIELDS))}>, "
            f"company.<{'|'.join(sorted(COMPANY_FIELDS))}> or attributes.<key>.",
            loc=loc,
        )


def _check_fit_rule(rule: Mapping[str, Any], index: int) -> None:
    _check_attribute(str(rule.get("attribute", "")), ("rules", index, "attribute"))
    op = rule.get("operator")
    if op not in Operator.values:
        raise RuleInvalid(
            f"Rule {index + 1}: operator {op!r} is unknown; use one of "
            f"{', '.join(Operator.values)}.",
            loc=("rules", index, "operator"),
        )
    value = rule.get("value")
    if op == Operator.BETWEEN and not (isinstance(value, list) and len(value) == 2):
        raise RuleInvalid(
            f"Rule {index + 1}: 'is between' needs two values, low and high; got {value!r}.",
            loc=("rules", index, "value"),
        )
    if op in (Operator.IN, Operator.NOT_IN) and not isinstance(value, list):
        raise RuleInvalid(
            f"Rule {index + 1}: {Operator(op).label!r} needs a list of values; got {value!r}.",
            loc=("rules", index, "value"),
        )


def _next_version(model: type[FitRuleSet] | type[EngagementRuleSet]) -> int:
    return (model.objects.aggregate(v=Max("version"))["v"] or 0) + 1


@transaction.atomic
def fit_ruleset_create(
    *,
    rules: Sequence[Mapping[str, Any]],
    grades: tuple[int, int, int] = (75, 50, 25),
    note: str = "",
    actor: User | None,
) -> FitRuleSet:
    """A new fit rule set version (not active yet) with `rules` (dicts with attribute,
    operator, value, points, label). Raises RuleInvalid naming the rule and field."""
    a, b, c = grades
    if not 100 >= a > b > c >= 0:
        raise RuleInvalid(
            f"Grade bands must fall: A > B > C, within 0-100; got A {a}, B {b}, C {c}.",
            loc=("grade_a",),
        )
    for index, rule in enumerate(rules):
        _check_fit_rule(rule, index)
    ruleset = FitRuleSet.objects.create(
        version=_next_version(FitRuleSet),
        grade_a=a,
        grade_b=b,
        grade_c=c,
        note=note,
        created_by=actor,
    )
    FitRule.objects.bulk_create(
        FitRule(
            ruleset=ruleset,
            attribute=str(r["attribute"]),
            operator=str(r["operator"]),
            value=r.get("value"),
            points=int(r["points"]),
            label=str(r.get("label", "")),
            position=i,
        )
        for i, r in enumerate(rules)
    )
    return ruleset


@transaction.atomic
def engagement_ruleset_create(
    *,
    rules: Sequence[Mapping[str, Any]],
    half_life_days: float = 30.0,
    scale: float = 50.0,
    note: str = "",
    actor: User | None,
) -> EngagementRuleSet:
    """A new engagement rule set version (not active yet). Raises RuleInvalid."""
    if half_life_days < MIN_HALF_LIFE_DAYS:
        raise RuleInvalid(
            f"The half-life must be at least {MIN_HALF_LIFE_DAYS:g} days; got {half_life_days:g}.",
            loc=("half_life_days",),
        )
    if scale <= 0:
        raise RuleInvalid(f"The scale k must be above 0; got {scale:g}.", loc=("scale",))
    kinds = set(TouchKind.values)
    for index, r in enumerate(rules):
        if r.get("touch_kind") and r["touch_kind"] not in kinds:
            raise RuleInvalid(
                f"Rule {index + 1}: touch kind {r['touch_kind']!r} is unknown.",
                loc=("rules", index, "touch_kind"),
            )
        if not isinstance(r.get("property_equals") or {}, dict):
            raise RuleInvalid(
                f"Rule {index + 1}: property match must be an object like "
                '{"event": "unsubscribe"}.',
                loc=("rules", index, "property_equals"),
            )
    ruleset = EngagementRuleSet.objects.create(
        version=_next_version(EngagementRuleSet),
        half_life_days=half_life_days,
        scale=scale,
        note=note,
        created_by=actor,
    )
    EngagementRule.objects.bulk_create(
        EngagementRule(
            ruleset=ruleset,
            touch_kind=str(r.get("touch_kind") or ""),
            channel=str(r.get("channel") or ""),
            campaign_id=r.get("campaign_id"),
            content_offer_id=r.get("content_offer_id"),
            url_contains=str(r.get("url_contains") or ""),
            property_equals=dict(r.get("property_equals") or {}),
            points=int(r["points"]),
            daily_cap=r.get("daily_cap"),
            label=str(r.get("label", "")),
            position=i,
        )
        for i, r in enumerate(rules)
    )
    return ruleset


def _activate(model: type[FitRuleSet] | type[EngagementRuleSet], ruleset_id: int) -> Any:
    ruleset = model.objects.select_for_update().filter(pk=ruleset_id).first()
    if ruleset is None:
        raise RuleSetMissing(f"No rule set with id {ruleset_id}.", loc=("ruleset_id",))
    model.objects.filter(is_active=True).exclude(pk=ruleset_id).update(is_active=False)
    ruleset.is_active, ruleset.activated_at = True, timezone.now()
    ruleset.save(update_fields=["is_active", "activated_at"])
    return ruleset


def _rescore_after_commit(cause: str) -> None:
    from leadloop.scoring.progress import rescore_progress_set
    from leadloop.scoring.tasks import rescore_all  # tasks import this module

    def enqueue() -> None:
        rescore_progress_set(cause=cause, done=0, total=0, running=True)
        rescore_all.enqueue(cause=cause)

    transaction.on_commit(enqueue)


def _threshold_group(group: Mapping[str, Any], index: int) -> dict[str, Any]:
    """One group checked and normalised (unset keys left out). Raises RuleInvalid."""
    where = f"Threshold group {index + 1}"
    unknown = sorted(set(group) - {"fit_grade_min", "engagement_min", "predicted_min"})
    if unknown:
        raise RuleInvalid(f"{where}: {unknown[0]!r} is not a threshold.", loc=("groups", index))
    out: dict[str, Any] = {}
    grade, engagement, predicted = (
        group.get("fit_grade_min"),
        group.get("engagement_min"),
        group.get("predicted_min"),
    )
    if grade is not None:
        if grade not in GRADES:
            raise RuleInvalid(
                f"{where}: fit grade {grade!r} is not one of A, B, C, D.",
                loc=("groups", index, "fit_grade_min"),
            )
        out["fit_grade_min"] = grade
    if engagement is not None:
        if (
            isinstance(engagement, bool)
            or not isinstance(engagement, int)
            or not (0 <= engagement <= 100)
        ):
            raise RuleInvalid(
                f"{where}: engagement must be a whole number from 0 to 100; got {engagement!r}.",
                loc=("groups", index, "engagement_min"),
            )
        out["engagement_min"] = engagement
    if predicted is not None:
        if (
            isinstance(predicted, bool)
            or not isinstance(predicted, int | float)
            or not (0 < predicted <= 1)
        ):
            raise RuleInvalid(
                f"{where}: the predicted probability must be above 0 and at most 1; "
                f"got {predicted!r}.",
                loc=("groups", index, "predicted_min"),
            )
        out["predicted_min"] = float(predicted)
    if not out:
        raise RuleInvalid(f"{where} has no threshold.", loc=("groups", index))
    return out


@transaction.atomic
def qualify_thresholds_set(
    *,
    groups: Sequence[Mapping[str, Any]],
    agreement_version: int | None,
    rescore: bool = True,
) -> QualifyThresholds:
    """Store the thresholds a lead must meet to qualify (any group; in a group every set key
    of fit_grade_min, engagement_min, predicted_min). When they differ from the stored ones,
    every lead is rescored in the background after commit, so ``LeadScore.qualifies``
    follows them. Raises RuleInvalid naming the group and key."""
    clean = [_threshold_group(g, i) for i, g in enumerate(groups)]
    row = QualifyThresholds.objects.select_for_update().filter(pk=1).first()
    changed = row is None or row.groups != clean
    if row is None:
        row = QualifyThresholds.objects.create(
            pk=1, groups=clean, agreement_version=agreement_version
        )
    else:
        row.groups, row.agreement_version = clean, agreement_version
        row.save(update_fields=["groups", "agreement_version", "updated_at"])
    if changed and rescore:
        label = f"agreement v{agreement_version}" if agreement_version else "qualification"
        _rescore_after_commit(f"{label} thresholds")
    return row


def qualify_thresholds_init(*, groups: Sequence[Mapping[str, Any]], agreement_version: int) -> None:
    """Store the initial agreement's thresholds unless thresholds are stored already: one
    INSERT that yields to an existing row, no rescore (the initial agreement is made before a
    lead is scored). Raises RuleInvalid naming the group and key."""
    clean = [_threshold_group(g, i) for i, g in enumerate(groups)]
    QualifyThresholds.objects.bulk_create(
        [QualifyThresholds(pk=1, groups=clean, agreement_version=agreement_version)],
        ignore_conflicts=True,
    )


@transaction.atomic
def fit_ruleset_activate(
    *, ruleset_id: int, actor: User | None, rescore: bool = True
) -> FitRuleSet:
    """Make version `ruleset_id` the active fit rules; every lead is rescored in the
    background after commit. Raises RuleSetMissing."""
    ruleset: FitRuleSet = _activate(FitRuleSet, ruleset_id)
    if rescore:
        _rescore_after_commit(f"fit rules v{ruleset.version}")
    return ruleset


@transaction.atomic
def engagement_ruleset_activate(
    *, ruleset_id: int, actor: User | None, rescore: bool = True
) -> EngagementRuleSet:
    """Make version `ruleset_id` the active engagement rules; rescore in the background."""
    ruleset: EngagementRuleSet = _activate(EngagementRuleSet, ruleset_id)
    if rescore:
        _rescore_after_commit(f"engagement rules v{ruleset.version}")
    return ruleset


def fit_rules_as_data(ruleset: FitRuleSet) -> list[dict[str, Any]]:
    """A version's rules as the dicts ``fit_ruleset_create`` takes (to copy and change)."""
    return [
        {
            "attribute": r.attribute,
            "operator": r.operator,
            "value": r.value,
            "points": r.points,
            "label": r.label,
        }
        for r in ruleset.rules.all()
    ]


def engagement_rules_as_data(ruleset: EngagementRuleSet) -> list[dict[str, Any]]:
    return [
        {
            "touch_kind": r.touch_kind,
            "channel": r.channel,
            "campaign_id": r.campaign_id,
            "content_offer_id": r.content_offer_id,
            "url_contains": r.url_contains,
            "property_equals": r.property_equals,
            "points": r.points,
            "daily_cap": r.daily_cap,
            "label": r.label,
        }
        for r in ruleset.rules.all()
    ]


# --- Merge -----------------------------------------------------------------------------------


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

"""Full rescoring: fit, engagement from all touches, and the prediction, chunk by chunk.

    split the leads into chunks of ≤ CHUNK ids -> per chunk, one transaction:
      read the leads' rule attributes and their touches (two queries, plain columns)
      fit: each rule evaluated once per distinct value, summed with numpy
      engagement: each distinct touch shape matched once; terms, caps and per-rule sums in numpy
      predicted: ``scoring.predict.predicted_for_chunk`` when that module and a model exist
      read the old scores, upsert the new ones with one executemany, history where they moved
    -> progress(done, total) after each committed chunk

Short transactions keep capture writing between chunks (SQLite has one writer at a time).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from leadloop.leads.models import Lead
from leadloop.scoring.models import ENGAGEMENT_EPOCH, LeadScore, PredictiveModel, ScoreHistory
from leadloop.scoring.rules import (
    Reason,
    TouchFacts,
    clamp,
    engagement_score,
    epoch_days,
    fit_grade,
    fit_reasons,
    fit_rule_matches,
)
from leadloop.scoring.services import (
    GRADES,
    EngagementRules,
    FitRules,
    QualifyGroup,
    engagement_rules_active,
    fit_rules_active,
    qualify_groups,
)

CHUNK: Final = 10_000
Progress = Callable[[int, int], None]
Predictor = Callable[[list[int], dt.datetime], dict[int, tuple[float, list[str]]] | None]


@dataclass(frozen=True)
class RescoreResult:
    leads: int
    moved: int  # ScoreHistory rows written
    seconds: float


def _predictor() -> Predictor | None:
    try:
        from leadloop.scoring import predict  # written beside this app; may not exist yet
    except ImportError:
        return None
    fn = getattr(predict, "predicted_for_chunk", None)
    return fn if callable(fn) else None


def scores_rescore(
    *,
    lead_ids: Sequence[int] | None = None,
    progress: Progress | None = None,
    cause: str = "rescore",
    chunk: int = CHUNK,
) -> RescoreResult:
    """Recompute every score of `lead_ids` (default: all leads) from scratch, in chunks of at
    most `chunk` leads per transaction; history rows say `cause` where a score moved."""
    started = timezone.now()
    chunk = max(1, min(chunk, CHUNK))
    ids = (
        sorted(set(lead_ids))
        if lead_ids is not None
        else list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    )
    fit, eng = fit_rules_active(), engagement_rules_active()
    predictor = _predictor()
    if fit is None and eng is None and predictor is None:
        return RescoreResult(0, 0, 0.0)  # nothing to score with
    model_version = (
        PredictiveModel.objects.filter(is_active=True).values_list("version", flat=True).first()
    )
    groups = qualify_groups()  # once per rescore, not per lead
    moved = 0
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        with transaction.atomic():
            moved += _chunk_rescore(
                part,
                fit=fit,
                eng=eng,
                at=timezone.now(),
                cause=cause,
                predictor=predictor,
                model_version=model_version,
                contiguous=lead_ids is None,
                groups=groups,
            )
        if progress is not None:
            progress(min(start + chunk, len(ids)), len(ids))
    return RescoreResult(len(ids), moved, (timezone.now() - started).total_seconds())


# --- Reading ------------------------------------------------------------------------------------


def _where(ids: Sequence[int], column: str, contiguous: bool) -> tuple[str, list[Any]]:
    if contiguous:
        return f"{column} >= %s AND {column} <= %s", [ids[0], ids[-1]]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _epoch_days_sql(column: str) -> str:
    """Days from ENGAGEMENT_EPOCH to `column`, computed by the database."""
    if connection.vendor == "sqlite":
        epoch = ENGAGEMENT_EPOCH.strftime("%Y-%m-%d %H:%M:%S")
        return f"(julianday({column}) - julianday('{epoch}'))"
    return f"((EXTRACT(EPOCH FROM {column}) - {ENGAGEMENT_EPOCH.timestamp()}) / 86400.0)"


def _fit_columns(
    ids: Sequence[int], fit: FitRules, contiguous: bool
) -> tuple[list[int], dict[str, list[Any]]]:
    """The leads' ids and, per rule attribute, the column of values (in id order)."""
    lead_fields = sorted(fit.lead_fields)
    company_fields = sorted(fit.company_fields)
    names = ["pk", *lead_fields, *(f"company__{f}" for f in company_fields)]
    if fit.uses_attributes:
        names.append("attributes")
    query = Lead.objects.order_by("pk")
    if contiguous:
        query = query.filter(pk__gte=ids[0], pk__lte=ids[-1])
    else:
        query = query.filter(pk__in=ids)
    rows = list(query.values_list(*names))
    columns: dict[str, list[Any]] = {}
    for position, name in enumerate(names[1:], start=1):
        key = name.replace("company__", "company.") if name.startswith("company__") else name
        if name != "attributes":
            key = key if key.startswith("company.") else f"lead.{key}"
            columns[key] = [row[position] for row in rows]
    if fit.uses_attributes:
        attrs = [row[-1] if isinstance(row[-1], dict) else {} for row in rows]
        for rule in fit.rules:
            if rule.attribute.startswith("attributes."):
                key = rule.attribute.removeprefix("attributes.")
                columns[rule.attribute] = [a.get(key) for a in attrs]
    return [row[0] for row in rows], columns


def _hashable(value: Any) -> Any:
    return (
        json.dumps(value, sort_keys=True, default=str) if isinstance(value, list | dict) else value
    )


@dataclass
class _Fit:
    scores: np.ndarray
    grades: list[str]
    reasons: list[str]  # JSON


def _fit_chunk(count: int, columns: dict[str, list[Any]], fit: FitRules) -> _Fit:
    """Each rule evaluated once per distinct value of its column; the matches as a matrix;
    grades and reasons worded once per distinct set of matching rules."""
    if not fit.rules:
        return _Fit(np.zeros(count, dtype=np.int64), ["D"] * count, ["[]"] * count)
    matrix = np.zeros((count, len(fit.rules)), dtype=bool)
    coded: dict[str, tuple[np.ndarray, list[Any]]] = {}
    for r, rule in enumerate(fit.rules):
        if rule.attribute not in coded:
            coded[rule.attribute] = _codes(columns.get(rule.attribute, [None] * count))
        codes, distinct = coded[rule.attribute]
        hits = np.array([fit_rule_matches(rule, value) for value in distinct], dtype=bool)
        matrix[:, r] = hits[codes]
    points = np.array([rule.points for rule in fit.rules], dtype=np.int64)
    raw = matrix.astype(np.int64) @ points
    scores = np.clip(raw, 0, 100)
    _patterns, first, which = np.unique(
        np.packbits(matrix, axis=1), axis=0, return_index=True, return_inverse=True
    )
    grades: list[str] = []
    reasons: list[str] = []
    for i in first.tolist():  # one row of each distinct set of matching rules
        score = clamp(float(raw[i]))
        grades.append(fit_grade(score, a=fit.grades[0], b=fit.grades[1], c=fit.grades[2]))
        reasons.append(json.dumps(fit_reasons(fit.rules, np.flatnonzero(matrix[i]).tolist())))
    which = which.reshape(-1)
    return _Fit(
        scores,
        np.array(grades, dtype=object)[which].tolist(),
        np.array(reasons, dtype=object)[which].tolist(),
    )


def _codes(column: list[Any]) -> tuple[np.ndarray, list[Any]]:
    """Each value's index among the column's distinct values, and those values (lists and
    dicts, from custom attributes, compared by their JSON)."""
    index: dict[Any, int] = {}
    try:
        codes = [index.setdefault(value, len(index)) for value in column]
        distinct = list(index)
    except TypeError:  # an unhashable value
        index, distinct, codes = {}, [], []
        for value in column:
            key = _hashable(value)
            code = index.get(key)
            if code is None:
                code = index[key] = len(distinct)
                distinct.append(value)
            codes.append(code)
    return np.array(codes, dtype=np.int64), distinct


@dataclass
class _Engagement:
    sums: np.ndarray
    last_days: np.ndarray  # days since the epoch of the last touch; nan without touches
    reasons: list[str]  # JSON


def _touch_rows(
    ids: Sequence[int], eng: EngagementRules, contiguous: bool
) -> list[tuple[Any, ...]]:
    url = any(r.url_contains for r in eng.rules)
    props = any(r.property_equals for r in eng.rules)
    where, params = _where(ids, "lead_id", contiguous)
    url_column = "landing_page" if url else "''"
    props_column = "properties" if props else "'{}'"
    sql = (
        "SELECT lead_id, kind, channel, campaign_id, content_offer_id, "
        f"{url_column}, {props_column}, "
        f"{_epoch_days_sql('occurred_at')} FROM capture_touch WHERE {where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _touch_shape_matcher(
    eng: EngagementRules,
) -> Callable[[tuple[Any, ...]], tuple[int, ...]]:
    """Which rules a touch matches, memoised by the touch's shape (kind, channel, …)."""
    url_rules = [r.url_contains.casefold() for r in eng.rules if r.url_contains]
    memo: dict[tuple[Any, ...], tuple[int, ...]] = {}
    epoch = ENGAGEMENT_EPOCH

    def match(row: tuple[Any, ...]) -> tuple[int, ...]:
        _lead, kind, channel, campaign, offer, url, props, _days = row
        url_bits = tuple(u in url.casefold() for u in url_rules) if url else ()
        props_key = props if isinstance(props, str) else json.dumps(props, sort_keys=True)
        key = (kind, channel, campaign, offer, url_bits, props_key)
        hit = memo.get(key)
        if hit is None:
            properties = json.loads(props) if isinstance(props, str) else (props or {})
            facts = TouchFacts(
                kind=kind,
                occurred_at=epoch,
                channel=channel or "",
                campaign_id=campaign,
                content_offer_id=offer,
                url=url or "",
                properties=properties if isinstance(properties, dict) else {},
            )
            hit = memo[key] = tuple(i for i, r in enumerate(eng.rules) if r.matches(facts))
        return hit

    return match


def _engagement_chunk(ids: Sequence[int], eng: EngagementRules, contiguous: bool) -> _Engagement:
    """S per lead from all its touches: Σ over matching rules of p·2^((t - t₀)/h), a capped
    rule counting at most its cap of touches a day, each at the day's start."""
    count = len(ids)
    rows = _touch_rows(ids, eng, contiguous)
    index = {lead_id: i for i, lead_id in enumerate(ids)}
    match = _touch_shape_matcher(eng)
    pair_touch: list[int] = []
    pair_rule: list[int] = []
    lead_of = np.fromiter((index.get(row[0], -1) for row in rows), dtype=np.int64, count=len(rows))
    days = np.fromiter((row[7] for row in rows), dtype=np.float64, count=len(rows))
    for t, row in enumerate(rows):
        for r in match(row):
            pair_touch.append(t)
            pair_rule.append(r)
    last = np.full(count, np.nan)
    known = lead_of >= 0
    if known.any():
        order = np.argsort(days[known], kind="stable")
        last[lead_of[known][order]] = days[known][order]
    n_rules = max(1, len(eng.rules))
    sums = np.zeros(count)
    per_rule: np.ndarray[Any, Any] = np.zeros((count, n_rules))
    per_count: np.ndarray[Any, Any] = np.zeros((count, n_rules), dtype=np.int64)
    if pair_touch:
        pt = np.asarray(pair_touch, dtype=np.int64)
        pr = np.asarray(pair_rule, dtype=np.int64)
        ok = lead_of[pt] >= 0
        pt, pr = pt[ok], pr[ok]
        leads = lead_of[pt]
        points = np.array([r.points for r in eng.rules], dtype=np.float64)[pr]
        caps = np.array(
            [r.daily_cap if r.daily_cap is not None else -1 for r in eng.rules], dtype=np.int64
        )[pr]
        day = np.floor(days[pt])
        when = np.where(caps >= 0, day, days[pt])
        terms = points * np.exp2(when / eng.half_life_days)
        weight = np.ones(len(pt), dtype=np.int64)
        capped = np.flatnonzero(caps >= 0)
        if capped.size:
            key = (leads[capped] * n_rules + pr[capped]) * 1_000_000 + day[capped].astype(np.int64)
            order = np.argsort(key, kind="stable")
            sorted_key = key[order]
            starts = np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1]
            rank = np.arange(sorted_key.size) - np.repeat(
                starts, np.diff(np.r_[starts, sorted_key.size])
            )
            over = np.zeros(capped.size, dtype=bool)
            over[order] = rank >= caps[capped][order]
            terms[capped[over]] = 0.0
            weight[capped[over]] = 0
        cell = leads * n_rules + pr
        per_rule = np.bincount(cell, weights=terms, minlength=count * n_rules).reshape(
            count, n_rules
        )
        per_count = (
            np.bincount(cell, weights=weight, minlength=count * n_rules)
            .reshape(count, n_rules)
            .astype(np.int64)
        )
        sums = per_rule.sum(axis=1)
    return _Engagement(sums, last, _engagement_reasons(per_rule, per_count, eng))


def _engagement_reasons(
    per_rule: np.ndarray, per_count: np.ndarray, eng: EngagementRules
) -> list[str]:
    texts = [json.dumps(r.describe()) for r in eng.rules]
    ids = [r.id for r in eng.rules]
    out = ["[]"] * per_rule.shape[0]
    rows, cols = np.nonzero(per_count)
    if rows.size == 0:
        return out
    values = per_rule[rows, cols].tolist()
    counts = per_count[rows, cols].tolist()
    current = -1
    parts: list[str] = []
    for lead, rule, total, n in zip(rows.tolist(), cols.tolist(), values, counts, strict=True):
        if lead != current:
            if current >= 0:
                out[current] = "[" + ", ".join(parts) + "]"
            current, parts = lead, []
        parts.append(
            f'{{"points": 0, "text": {texts[rule]}, "rule_id": {ids[rule]}, '
            f'"sum": {float(total)!r}, "count": {n}}}'
        )
    out[current] = "[" + ", ".join(parts) + "]"
    return out


# --- Writing ------------------------------------------------------------------------------------

_COLUMNS: Final = (
    "lead_id",
    "fit_score",
    "fit_grade",
    "fit_version",
    "fit_reasons",
    "engagement_sum",
    "engagement_version",
    "engagement_reasons",
    "last_touch_at",
    "predicted_probability",
    "predicted_version",
    "predicted_reasons",
    "qualifies",
    "updated_at",
)


def _upsert_sql() -> str:
    table = LeadScore._meta.db_table
    names = ", ".join(_COLUMNS)
    json_cast = "::jsonb" if connection.vendor == "postgresql" else ""
    marks = ", ".join(f"%s{json_cast}" if c.endswith("_reasons") else "%s" for c in _COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
    return (
        f"INSERT INTO {table} ({names}) VALUES ({marks}) "
        f"ON CONFLICT (lead_id) DO UPDATE SET {updates}"
    )


def _old_scores(ids: Sequence[int], contiguous: bool) -> dict[int, tuple[Any, ...]]:
    where, params = _where(ids, "lead_id", contiguous)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT lead_id, fit_score, fit_grade, engagement_sum, predicted_probability "
            f"FROM {LeadScore._meta.db_table} WHERE {where}",
            params,
        )
        return {row[0]: row[1:] for row in cursor.fetchall()}


def _engagement_scores(
    sums: np.ndarray, at: dt.datetime, eng: EngagementRules | None
) -> np.ndarray:
    if eng is None:
        return np.zeros(sums.shape, dtype=np.int64)
    decayed = sums * np.exp2(-epoch_days(at) / eng.half_life_days)
    score = 100.0 * (1.0 - np.exp(-np.maximum(decayed, 0.0) / eng.scale))
    return np.clip(np.rint(score), 0, 100).astype(np.int64)


def _chunk_rescore(
    ids: Sequence[int],
    *,
    fit: FitRules | None,
    eng: EngagementRules | None,
    at: dt.datetime,
    cause: str,
    predictor: Predictor | None,
    model_version: int | None,
    contiguous: bool,
    groups: Sequence[QualifyGroup],
) -> int:
    if fit is not None:
        ids, columns = _fit_columns(ids, fit, contiguous)
    else:
        ids = list(Lead.objects.filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
        columns = {}
    if not ids:
        return 0
    count = len(ids)
    fit_part = (
        _fit_chunk(count, columns, fit)
        if fit
        else _Fit(np.zeros(count, dtype=np.int64), ["D"] * count, ["[]"] * count)
    )
    eng_part = (
        _engagement_chunk(ids, eng, contiguous)
        if eng
        else _Engagement(np.zeros(count), np.full(count, np.nan), ["[]"] * count)
    )
    predicted = predictor(list(ids), at) if predictor is not None else None
    eng_scores = _engagement_scores(eng_part.sums, at, eng)
    old = _old_scores(ids, contiguous)
    qualify = _qualify_mask(ids, fit_part.grades, eng_scores, predicted, groups)
    rows, history = _rows(
        ids, fit_part, eng_part, eng_scores, predicted, old, at, fit, eng, model_version, qualify
    )
    with connection.cursor() as cursor:
        cursor.executemany(_upsert_sql(), rows)
        if history:
            stamp, why = connection.ops.adapt_datetimefield_value(at), cause[:200]
            cursor.executemany(
                f"INSERT INTO {ScoreHistory._meta.db_table} (lead_id, at, fit_score, "
                "engagement_score, predicted_probability, cause) VALUES (%s, %s, %s, %s, %s, %s)",
                [(lead_id, stamp, f, e, p, why) for lead_id, f, e, p in history],
            )
    return len(history)


def _rows(
    ids: Sequence[int],
    fit_part: _Fit,
    eng_part: _Engagement,
    eng_scores: np.ndarray,
    predicted: dict[int, tuple[float, list[str]]] | None,
    old: dict[int, tuple[Any, ...]],
    at: dt.datetime,
    fit: FitRules | None,
    eng: EngagementRules | None,
    model_version: int | None,
    qualify: list[bool],
) -> tuple[list[tuple[Any, ...]], list[tuple[int, int, int, float | None]]]:
    adapt = _datetime_adapter()
    now = connection.ops.adapt_datetimefield_value(at)
    fit_v = fit.version if fit else None
    eng_v = eng.version if eng else None
    h, k = (eng.half_life_days, eng.scale) if eng else (30.0, 50.0)
    factor = float(np.exp2(-epoch_days(at) / h))
    fit_scores = fit_part.scores.tolist()
    sums = eng_part.sums.tolist()
    scores = eng_scores.tolist()
    last = eng_part.last_days.tolist()
    rows: list[tuple[Any, ...]] = []
    history: list[tuple[int, int, int, float | None]] = []
    for i, lead_id in enumerate(ids):
        grade = fit_part.grades[i]
        p, p_reasons = (None, "[]")
        if predicted is not None and lead_id in predicted:
            prob, texts = predicted[lead_id]
            p = float(prob)
            if texts:
                p_reasons = json.dumps([Reason(points=0, text=t) for t in texts])
        last_at = None if last[i] != last[i] else adapt(dt.timedelta(days=last[i]))
        rows.append(
            (
                lead_id,
                fit_scores[i],
                grade,
                fit_v,
                fit_part.reasons[i],
                sums[i],
                eng_v,
                eng_part.reasons[i],
                last_at,
                p,
                model_version if p is not None else None,
                p_reasons,
                qualify[i],
                now,
            )
        )
        before = old.get(lead_id)
        if before is None:
            moved = True
        else:
            b_eng = _score_of(before[2] * factor, k)
            moved = (
                before[0] != fit_scores[i]
                or before[1] != grade
                or b_eng != scores[i]
                or _pct(before[3]) != _pct(p)
            )
        if moved:
            history.append((lead_id, fit_scores[i], scores[i], p))
    return rows, history


def _datetime_adapter() -> Callable[[dt.timedelta], Any]:
    """ENGAGEMENT_EPOCH + a timedelta as the database takes it: what
    ``connection.ops.adapt_datetimefield_value`` returns, without its checks per row (SQLite:
    the naive UTC time as text; PostgreSQL: the aware datetime)."""
    if connection.vendor == "sqlite":
        naive = ENGAGEMENT_EPOCH.replace(tzinfo=None)
        return lambda delta: str(naive + delta)
    return lambda delta: connection.ops.adapt_datetimefield_value(ENGAGEMENT_EPOCH + delta)


def _qualify_mask(
    ids: Sequence[int],
    grades: Sequence[str],
    eng_scores: np.ndarray,
    predicted: dict[int, tuple[float, list[str]]] | None,
    groups: Sequence[QualifyGroup],
) -> list[bool]:
    """``scoring.services.qualifies`` for a whole chunk at once: any group holds, where a
    group holds when each of its set thresholds does (no prediction misses a predicted one)."""
    rank_of = {g: i for i, g in enumerate(GRADES)}
    ranks = np.array([rank_of.get(g, len(GRADES)) for g in grades], dtype=np.int64)
    found = predicted or {}
    probs = np.array([float(found[i][0]) if i in found else np.nan for i in ids], dtype=np.float64)
    out = np.zeros(len(ids), dtype=bool)
    for group in groups:
        holds = np.ones(len(ids), dtype=bool)
        if group.fit_grade_min is not None:
            holds &= ranks <= rank_of.get(group.fit_grade_min, -1)
        if group.engagement_min is not None:
            holds &= eng_scores >= group.engagement_min
        if group.predicted_min is not None:
            holds &= np.nan_to_num(probs, nan=-1.0) >= group.predicted_min
        out |= holds
    return [bool(v) for v in out.tolist()]


def _pct(p: float | None) -> int | None:
    return None if p is None else round(p * 100)


def _score_of(decayed: float, k: float) -> int:
    return engagement_score(decayed, k)

"""The active model's calibrated probabilities and their reasons, for a chunk of leads.

``predicted_for_chunk`` is what the full rescoring calls; the unpickled active model is cached
in-process by version, so a chunk costs one small query to learn the active version.

Reasons: a cheap local attribution that works for any model. For each column where the lead
differs from a typical lead (the training set's most frequent level or median), the lead is
scored again with that one value set to the typical one; the odds ratio between the two
probabilities is that value's contribution ("model: 3 webinar attendance touches raise the
odds x1.8", with a multiplication sign). The three largest, in either direction, are kept.
The same numbers come cheaper for the two models training makes: a logistic regression's from
its weights (``_variants_linear``), gradient-boosted trees' from only the trees that split on
the column (``scoring.trees``); any other model scores the variant rows (``_variants``).
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
from django.utils import timezone
from threadpoolctl import threadpool_limits

from leadloop.scoring.features import (
    FeatureSpec,
    LeadFacts,
    feature_matrix,
    feature_matrix_at,
    feature_phrase,
)
from leadloop.scoring.models import ENGAGEMENT_EPOCH, EngagementRuleSet, PredictiveModel
from leadloop.scoring.registry import artifact_load
from leadloop.scoring.trees import transformed_owners, tree_variants

TOP_REASONS: Final = 3
_MIN_RATIO: Final = 1.05  # smaller effects are noise, not a reason
_TIMES: Final = "\u00d7"


@dataclass(frozen=True)
class LoadedModel:
    version: int
    pipeline: Any
    spec: FeatureSpec
    baseline: list[Any]


# Keyed by (version, trained_at): a version number alone can come back (a restored or rebuilt
# database, every test), and a stale model must never answer for a new one.
_cache: dict[tuple[int, datetime], LoadedModel] = {}
_lock = threading.Lock()


def active_model() -> LoadedModel | None:
    """The active model, unpickled once per process and version; None when none is active."""
    key = (
        PredictiveModel.objects.filter(is_active=True).values_list("version", "trained_at").first()
    )
    if key is None:
        return None
    version = key[0]
    with _lock:
        loaded = _cache.get(key)
        if loaded is None:
            row = PredictiveModel.objects.only("artifact").get(version=version)
            data = artifact_load(row.artifact)
            loaded = LoadedModel(version, data["pipeline"], data["spec"], data["baseline"])
            _cache.clear()
            _cache[key] = loaded
    return loaded


def predicted_for_chunk(
    lead_ids: list[int], at: datetime
) -> dict[int, tuple[float, list[str]]] | None:
    """Each lead's calibrated probability and reasons as of `at`; None when no model is active."""
    model = active_model()
    if model is None:
        return None
    ids, x = feature_matrix_at(model.spec, lead_ids, at)
    if not ids:
        return {}
    with threadpool_limits(1):
        return _predict(model, ids, x)


def predicted_for_lead(lead_id: int) -> tuple[float, list[str]] | None:
    """One lead's probability and reasons now; None when no model is active."""
    scored = predicted_for_chunk([lead_id], timezone.now())
    if scored is None:
        return None
    return scored.get(lead_id)


def predict_facts(model: LoadedModel, facts: list[LeadFacts]) -> dict[int, tuple[float, list[str]]]:
    """Probabilities and reasons for facts already gathered (the real-data tests use it)."""
    if not facts:
        return {}
    with threadpool_limits(1):
        return _predict(model, [f.lead_id for f in facts], feature_matrix(model.spec, facts))


def _predict(
    model: LoadedModel, ids: list[int], x: np.ndarray
) -> dict[int, tuple[float, list[str]]]:
    """The probability of each row of `x`, and the odds ratio of each column where the row
    differs from the typical lead: p over p with that one value set to the typical one."""
    differs = _differs(x, model.baseline)
    p, q = (
        _variants_linear(model, x)
        or tree_variants(model.pipeline, x, _typical_row(model), differs)
        or _variants(model, x, differs)
    )
    odds_p = _odds_of(p)
    ratio = odds_p[:, None] / _odds_of(q)
    kept = differs & (np.maximum(ratio, 1 / ratio) >= _MIN_RATIO)
    strength = np.where(kept, -np.abs(np.log(ratio)), 1.0)  # strongest first, then by column
    top = np.argsort(strength, axis=1, kind="stable")[:, :TOP_REASONS]
    names = model.spec.names
    phrases: dict[tuple[int, Any], tuple[str, bool]] = {}
    out: dict[int, tuple[float, list[str]]] = {}
    probabilities = p.tolist()
    any_kept = kept.any(axis=1).tolist()
    for i, lead_id in enumerate(ids):
        reasons: list[str] = []
        for j in top[i].tolist() if any_kept[i] else ():
            if not kept[i, j]:
                break
            value = x[i, j]
            key = (j, "nan" if isinstance(value, float) and math.isnan(value) else value)
            phrase = phrases.get(key)
            if phrase is None:
                phrase = phrases[key] = feature_phrase(model.spec, names[j], value)
            reasons.append(_reason_words(phrase, float(ratio[i, j])))
        out[lead_id] = (round(probabilities[i], 4), reasons)
    return out


def _differs(x: np.ndarray, baseline: list[Any]) -> np.ndarray:
    """Where each row's value is not the typical one (NaN equals NaN)."""
    out = np.zeros(x.shape, dtype=bool)
    for j, typical in enumerate(baseline):
        column = x[:, j]
        if isinstance(typical, float):
            values = column.astype(np.float64)
            same = (values == typical) | (np.isnan(values) & math.isnan(typical))
        else:
            same = column == typical
        out[:, j] = ~np.asarray(same, dtype=bool)
    return out


def _variants(
    model: LoadedModel, x: np.ndarray, differs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Any model: p, and q[i, j] = p of row i with column j set to the typical value (p where
    it is typical already), from one predict_proba over every such variant row."""
    p = model.pipeline.predict_proba(x)[:, 1]
    q = np.repeat(p[:, None], x.shape[1], axis=1)
    rows, cols = np.nonzero(differs)
    if rows.size:
        variants = x[rows]
        variants[np.arange(rows.size), cols] = _typical_row(model)[0, cols]
        q[rows, cols] = model.pipeline.predict_proba(variants)[:, 1]
    return p, q


def _typical_row(model: LoadedModel) -> np.ndarray:
    """The typical lead as a one-row matrix of the model's columns."""
    typical = np.empty((1, len(model.baseline)), dtype=object)
    typical[0, :] = model.baseline
    return typical


@dataclass(frozen=True)
class _LinearPart:
    """One calibrated fold of a logistic regression: its column transformer, weights, which
    raw column each transformed column comes from, and its calibrator."""

    prep: Any
    clf: Any
    owner_order: np.ndarray  # transformed columns sorted by their raw column
    starts: np.ndarray  # where each raw column's transformed columns start in that order
    owners: np.ndarray  # the raw column of each group in `starts`
    calibrator: Any


# By fitted pipeline (weakly: a replaced model's entry goes with it).
_linear_cache: weakref.WeakKeyDictionary[Any, list[_LinearPart] | None] = (
    weakref.WeakKeyDictionary()
)


def _variants_linear(model: LoadedModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The same p and q as ``_variants`` for a calibrated logistic regression without a
    variant row: its decision is a sum over the raw columns' transformed columns, so setting
    column j to the typical value moves it by w·(t(x_j) - t(typical_j)), which the fold's
    calibrator then maps. None for other models (trees)."""
    parts = _linear_parts(model)
    if parts is None:
        return None
    typical = _typical_row(model)
    n, m = x.shape
    p = np.zeros(n)
    q = np.zeros((n, m))
    for part in parts:
        t = part.prep.transform(x)
        decision = part.clf.decision_function(t)
        moved = (t - part.prep.transform(typical)) * part.clf.coef_[0]
        by_column = np.zeros((n, m))
        by_column[:, part.owners] = np.add.reduceat(moved[:, part.owner_order], part.starts, axis=1)
        p += part.calibrator.predict(decision)
        q += part.calibrator.predict((decision[:, None] - by_column).ravel()).reshape(n, m)
    return p / len(parts), q / len(parts)


def _linear_parts(model: LoadedModel) -> list[_LinearPart] | None:
    with _lock:
        if model.pipeline not in _linear_cache:
            _linear_cache[model.pipeline] = _linear_parts_of(model)
        return _linear_cache[model.pipeline]


def _linear_parts_of(model: LoadedModel) -> list[_LinearPart] | None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    pipeline = model.pipeline
    if not isinstance(pipeline, CalibratedClassifierCV) or len(pipeline.classes_) != 2:
        return None
    parts: list[_LinearPart] = []
    for fold in pipeline.calibrated_classifiers_:
        steps = dict(getattr(fold.estimator, "named_steps", {}))
        prep, clf = steps.get("prep"), steps.get("clf")
        if prep is None or not isinstance(clf, LogisticRegression) or len(fold.calibrators) != 1:
            return None
        owners = transformed_owners(prep)
        if owners is None or len(owners) != clf.coef_.shape[1]:
            return None
        owner = np.asarray(owners, dtype=np.int64)
        order = np.argsort(owner, kind="stable")
        groups, starts = np.unique(owner[order], return_index=True)
        parts.append(_LinearPart(prep, clf, order, starts, groups, fold.calibrators[0]))
    return parts


def _odds_of(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return clipped / (1 - clipped)


def _reason_words(phrase: tuple[str, bool], ratio: float) -> str:
    words, plural = phrase
    verb = ("raise" if plural else "raises") if ratio >= 1 else ("lower" if plural else "lowers")
    shown = f"{ratio:.1f}" if ratio >= 1 else f"{ratio:.2f}"
    return f"model: {words} {verb} the odds {_TIMES}{shown}"


def engagement_score(engagement_sum: float, at: datetime, ruleset: EngagementRuleSet | None) -> int:
    """0-100 = 100·(1 - exp(-E/k)), E = S·2^(-(t - t₀)/h) (METRICS.md, "Scores")."""
    half_life = ruleset.half_life_days if ruleset else 30.0
    scale = ruleset.scale if ruleset else 50.0
    days = (at - ENGAGEMENT_EPOCH).total_seconds() / 86400
    if engagement_sum <= 0 or scale <= 0:
        return 0
    # log space: S can be huge after years of decay-free accumulation at the epoch
    log2_e = math.log2(engagement_sum) - days / half_life
    energy = 2.0**log2_e if log2_e < 1000 else math.inf
    return round(100 * (1 - math.exp(-energy / scale)))

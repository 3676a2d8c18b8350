"""The active model's calibrated probabilities and their reasons, for a chunk of leads.

``predicted_for_chunk`` is what the full rescoring calls; the unpickled active model is cached
in-process by version, so a chunk costs one small query to learn the active version.

Reasons: a cheap local attribution that works for any model. For each column where the lead
differs from a typical lead (the training set's most frequent level or median), the lead is
scored again with that one value set to the typical one; the odds ratio between the two
probabilities is that value's contribution ("model: 3 webinar attendance touches raise the
odds x1.8", with a multiplication sign). The three largest, in either direction, are kept.
"""

from __future__ import annotations

import math
import threading
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
    feature_phrase,
    lead_facts,
)
from leadloop.scoring.models import ENGAGEMENT_EPOCH, EngagementRuleSet, PredictiveModel
from leadloop.scoring.registry import artifact_load

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
    facts = lead_facts(dict.fromkeys(lead_ids, at))
    return predict_facts(model, facts)


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
        return _predict(model, facts)


def _predict(model: LoadedModel, facts: list[LeadFacts]) -> dict[int, tuple[float, list[str]]]:
    x = feature_matrix(model.spec, facts)
    p = model.pipeline.predict_proba(x)[:, 1]
    variants: list[np.ndarray] = []
    owners: list[tuple[int, int]] = []  # (row, column) of each variant
    for i in range(len(facts)):
        for j, typical in enumerate(model.baseline):
            if not _same(x[i, j], typical):
                row = x[i].copy()
                row[j] = typical
                variants.append(row)
                owners.append((i, j))
    q = model.pipeline.predict_proba(np.vstack(variants))[:, 1] if variants else np.array([])
    effects: dict[int, list[tuple[float, int]]] = {i: [] for i in range(len(facts))}
    for (i, j), base_p in zip(owners, q, strict=True):
        ratio = _odds(float(p[i])) / _odds(float(base_p))
        if max(ratio, 1 / ratio) >= _MIN_RATIO:
            effects[i].append((ratio, j))
    names = model.spec.names
    out: dict[int, tuple[float, list[str]]] = {}
    for i, f in enumerate(facts):
        top = sorted(effects[i], key=lambda e: -abs(math.log(e[0])))[:TOP_REASONS]
        reasons = [_reason(model.spec, names[j], x[i, j], ratio) for ratio, j in top]
        out[f.lead_id] = (round(float(p[i]), 4), reasons)
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return bool(a == b)


def _odds(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return p / (1 - p)


def _reason(spec: FeatureSpec, name: str, value: Any, ratio: float) -> str:
    phrase, plural = feature_phrase(spec, name, value)
    verb = ("raise" if plural else "raises") if ratio >= 1 else ("lower" if plural else "lowers")
    shown = f"{ratio:.1f}" if ratio >= 1 else f"{ratio:.2f}"
    return f"model: {phrase} {verb} the odds {_TIMES}{shown}"


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

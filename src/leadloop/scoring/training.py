"""Training, evaluating and activating the predictive model (``leadloop model …``, the UI task).

    model_train      labels + facts from the database → model_fit → model_store
    model_fit        the same on any facts (the real-data tests and the benchmark build facts
                     straight from a CSV with the import's mapping): two candidates
                     (logistic regression, histogram gradient boosting), each a
                     ColumnTransformer pipeline calibrated by CalibratedClassifierCV (one
                     estimator fitted on all the training rows, calibrated on three folds'
                     out-of-fold predictions: scoring runs one model, not three); the one
                     with the better validation AUC wins
    model_activate   makes a stored version the active one

Validation: the *primary* split is a time split (older 80 % by creation time train, newer 20 %
test) when creation dates vary, else a seeded, stratified random 80/20 split (``split=
"random"`` forces it). Both figures are stored whenever they can be computed — with no dates,
the ordered split uses the row order (the import's order) — so drift shows honestly. The
stored model is the one fitted on the primary split's training part: its metrics describe
exactly the artifact. It is activated only when it beats the base rate: AUC > 0.5 +
``AUC_MARGIN`` and Brier < the Brier of always predicting the base rate.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

import joblib
import numpy as np
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from leadloop.accounts.models import User
from leadloop.capture.imports.mapping import Mapping
from leadloop.capture.imports.reader import CsvReader
from leadloop.capture.imports.validate import ImportRow, RowValidator
from leadloop.common.errors import LeadloopError
from leadloop.scoring.features import (
    OUTCOMES,
    AttributeInfo,
    FeatureSpec,
    LeadFacts,
    attribute_infos,
    feature_matrix,
    lead_facts,
    outcome_labels,
    spec_build,
)
from leadloop.scoring.models import PredictiveModel
from leadloop.scoring.registry import (  # noqa: F401  (re-exported for callers of training)
    ALGORITHMS,
    ModelNotFound,
    artifact_load,
    model_activate,
    model_card,
    model_versions,
)

AUC_MARGIN: Final = 0.02
TEST_SHARE: Final = 0.2
MIN_PER_CLASS: Final = 10
CALIBRATION_BINS: Final = 10
# Isotonic calibration only with this many rows of the rarer outcome (else sigmoid): with few
# customers, isotonic regression fits steps to a handful of them and gives exactly 0 to every
# lead scored below the lowest one (57 % of a 5,000-lead demo trained on 45 customers).
ISOTONIC_FROM: Final = 1000
Split = Literal["auto", "time", "random"]


class TrainingDataInsufficient(LeadloopError):
    code = "training_data_insufficient"


@dataclass(frozen=True)
class FitResult:
    pipeline: Any
    spec: FeatureSpec
    baseline: list[Any]
    algorithm: str
    metrics: dict[str, Any]
    activatable: bool
    note: str


# --- The pipeline -----------------------------------------------------------------------------


def _as_float(x: Any) -> Any:
    return np.asarray(x, dtype=float)


class _TrainingRange(TransformerMixin, BaseEstimator):
    """Clips each number to the range seen in training (NaN stays NaN).

    A linear model extrapolates without bound: one value far beyond the training data (a last
    touch 700 days ago when training saw at most a day) outweighs every other column and drives
    the probability to exactly 0 or 1. Beyond the range, the data says nothing more.
    """

    def fit(self, x: Any, y: Any = None) -> _TrainingRange:
        values = np.asarray(x, dtype=float)
        known = ~np.isnan(values)
        self.low_ = np.where(known, values, np.inf).min(axis=0, initial=np.inf)
        self.high_ = np.where(known, values, -np.inf).max(axis=0, initial=-np.inf)
        return self

    def transform(self, x: Any) -> Any:
        values = np.asarray(x, dtype=float)
        # A column with no number in training keeps its values (all imputed anyway).
        low = np.where(np.isfinite(self.low_), self.low_, -np.inf)
        high = np.where(np.isfinite(self.high_), self.high_, np.inf)
        return np.clip(values, low, high)


def _pipeline(spec: FeatureSpec, algorithm: str, seed: int) -> Pipeline:
    """Categories one-hot (rare levels grouped) for the logistic regression, ordinal codes
    (rare levels grouped) read natively by the trees; numbers clipped to the training range,
    imputed and scaled."""
    n_cat = len(spec.categorical)
    numeric = Pipeline(
        [
            ("float", FunctionTransformer(_as_float)),
            ("range", _TrainingRange()),
            (
                "impute",
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            ),
            ("scale", StandardScaler()),
        ]
    )
    cat_columns, num_columns = list(range(n_cat)), list(range(n_cat, n_cat + len(spec.numeric)))
    clf: Any
    if algorithm == "logistic_regression":
        categories: Any = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=0.005,
            max_categories=25,
            sparse_output=False,
        )
        clf = LogisticRegression(C=0.5, max_iter=2000)
    else:
        categories = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            min_frequency=0.005,
            max_categories=60,
        )
        clf = HistGradientBoostingClassifier(
            max_iter=150, learning_rate=0.08, max_leaf_nodes=15, l2_regularization=1.0,
            min_samples_leaf=30, random_state=seed, categorical_features=cat_columns,
        )  # fmt: skip
    prep = ColumnTransformer(
        [("categorical", categories, cat_columns), ("numeric", numeric, num_columns)],
        sparse_threshold=0.0,
    )
    return Pipeline([("prep", prep), ("clf", clf)])


def _calibrated(spec: FeatureSpec, algorithm: str, seed: int, rarer: int) -> CalibratedClassifierCV:
    """The candidate `algorithm`, calibrated on three folds; `rarer` is how many training rows
    have the rarer outcome."""
    method = "isotonic" if rarer >= ISOTONIC_FROM else "sigmoid"
    return CalibratedClassifierCV(
        _pipeline(spec, algorithm, seed), method=method, cv=3, ensemble=False
    )


# --- Metrics ----------------------------------------------------------------------------------


def figures(
    y_true: np.ndarray,
    p: np.ndarray,
    *,
    train_rate: float,
    sizes: dict[str, int],
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """AUC, Brier, log loss, base rate and its Brier, the calibration table, sizes; each row
    counted by its weight when `weights` are given (the table's counts stay row counts)."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    w = np.ones(len(p)) if weights is None else weights
    bins = []
    edges = np.linspace(0, 1, CALIBRATION_BINS + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, CALIBRATION_BINS - 1)
    for b in range(CALIBRATION_BINS):
        mask = which == b
        count = int(mask.sum())
        bins.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "count": count,
                "mean_predicted": _mean(p[mask], w[mask]) if count else None,
                "observed": _mean(y_true[mask], w[mask]) if count else None,
            }
        )
    base = np.full_like(p, min(max(train_rate, 1e-6), 1 - 1e-6))
    return {
        "auc": round(float(roc_auc_score(y_true, p, sample_weight=weights)), 4),
        "brier": round(float(brier_score_loss(y_true, p, sample_weight=weights)), 4),
        "log_loss": round(float(log_loss(y_true, p, labels=[0, 1], sample_weight=weights)), 4),
        "base_rate": _mean(y_true, w),
        "base_rate_brier": round(float(brier_score_loss(y_true, base, sample_weight=weights)), 4),
        "calibration": bins,
        "sizes": sizes,
    }


def _mean(values: np.ndarray, weights: np.ndarray) -> float:
    return round(float(np.average(values, weights=weights)), 4)


def _sizes(y_train: np.ndarray, y_test: np.ndarray) -> dict[str, int]:
    return {
        "train": len(y_train),
        "test": len(y_test),
        "train_positives": int(y_train.sum()),
        "test_positives": int(y_test.sum()),
    }


def _usable(y_train: np.ndarray, y_test: np.ndarray) -> bool:
    return min(
        int(y_train.sum()), len(y_train) - int(y_train.sum())
    ) >= MIN_PER_CLASS // 2 and 0 < int(y_test.sum()) < len(y_test)


# --- Fitting ----------------------------------------------------------------------------------


def model_fit(
    *,
    facts: Sequence[LeadFacts],
    labels: Sequence[int],
    order: Sequence[Any],
    attributes: Sequence[Any],
    dates_vary: bool,
    split: Split = "auto",
    seed: int = 0,
    weights: Sequence[float] | None = None,
) -> FitResult:
    """Fit and validate on `facts` (in any order; `order` sorts them oldest first).

    `weights` (optional, per fact) count a fact as that many: training moments drawn from a
    longer stretch of a lead's life stand for more of the leads the scorer meets (see
    ``features.outcome_labels``). They weigh the fit, the calibration and the metrics.

    One thread per native pool: on a busy machine, OpenMP threads that outnumber the cores
    make the trees several times slower, not faster.
    """
    with threadpool_limits(1):
        return _fit(facts, labels, order, attributes, dates_vary, split, seed, weights)


def _fit(
    facts: Sequence[LeadFacts],
    labels: Sequence[int],
    order: Sequence[Any],
    attributes: Sequence[Any],
    dates_vary: bool,
    split: Split,
    seed: int,
    weights: Sequence[float] | None,
) -> FitResult:
    y = np.asarray(labels, dtype=int)
    w = None if weights is None else np.asarray(weights, dtype=float)
    positives = int(y.sum())
    if min(positives, len(y) - positives) < MIN_PER_CLASS:
        raise TrainingDataInsufficient(
            f"Too few leads with a known outcome: {positives} reached it and "
            f"{len(y) - positives} did not; at least {MIN_PER_CLASS} of each are needed. "
            "Import leads with known outcomes, then train."
        )
    spec = spec_build(attributes, facts)
    x = feature_matrix(spec, facts)
    idx = np.arange(len(y))
    ordered = np.array(sorted(range(len(y)), key=lambda i: order[i]))
    cut = round(len(y) * (1 - TEST_SHARE))
    splits: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "time" if dates_vary else "row_order": (ordered[:cut], ordered[cut:])
    }
    train_r, test_r = train_test_split(idx, test_size=TEST_SHARE, random_state=seed, stratify=y)
    splits["random"] = (np.asarray(train_r), np.asarray(test_r))
    primary = "time" if dates_vary and split in ("auto", "time") else "random"
    if split == "time" and not dates_vary:
        primary = "row_order"
    tr, te = splits[primary]
    if not _usable(y[tr], y[te]):
        primary, (tr, te) = "random", splits["random"]
    candidates: dict[str, float] = {}
    fitted: dict[str, Any] = {}
    for algorithm in ALGORITHMS:
        model = _fitted(spec, algorithm, seed, x, y, w, tr)
        candidates[algorithm] = round(
            float(roc_auc_score(y[te], model.predict_proba(x[te])[:, 1], sample_weight=_at(w, te))),
            4,
        )
        fitted[algorithm] = model
    best = max(candidates, key=lambda a: candidates[a])
    chosen = fitted[best]
    p = chosen.predict_proba(x[te])[:, 1]
    main = figures(
        y[te], p, train_rate=_rate(y, w, tr), sizes=_sizes(y[tr], y[te]), weights=_at(w, te)
    )
    by_split: dict[str, Any] = {primary: main}
    for name, (a, b) in splits.items():
        if name == primary:
            continue
        if not _usable(y[a], y[b]):
            by_split[name] = None
            continue
        other = _fitted(spec, best, seed, x, y, w, a)
        q = other.predict_proba(x[b])[:, 1]
        by_split[name] = figures(
            y[b], q, train_rate=_rate(y, w, a), sizes=_sizes(y[a], y[b]), weights=_at(w, b)
        )
    metrics = {
        **main,
        "split": primary,
        "seed": seed,
        "algorithm": best,
        "candidates": candidates,
        "splits": by_split,
        "labelled": len(y),
        "positives": positives,
    }
    ok, note = _beats_base_rate(main)
    return FitResult(chosen, spec, _baseline(spec, x[tr]), best, metrics, ok, note)


def _at(w: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if w is None else w[rows]


def _rate(y: np.ndarray, w: np.ndarray | None, rows: np.ndarray) -> float:
    return float(np.average(y[rows], weights=_at(w, rows)))


def _fitted(
    spec: FeatureSpec,
    algorithm: str,
    seed: int,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    rows: np.ndarray,
) -> CalibratedClassifierCV:
    """The calibrated candidate fitted on `rows`, weighted by `w` (scaled to a mean of 1, so
    the regularisation means the same as unweighted)."""
    positives = int(np.count_nonzero(y[rows]))
    model = _calibrated(spec, algorithm, seed, min(positives, len(rows) - positives))
    if w is None:
        return model.fit(x[rows], y[rows])
    weights = w[rows] / w[rows].mean()
    with warnings.catch_warnings():
        # The pipeline gets them as clf__sample_weight; sample_weight weighs the calibration.
        warnings.filterwarnings("ignore", message="Since Pipeline does not appear to accept")
        return model.fit(x[rows], y[rows], sample_weight=weights, clf__sample_weight=weights)


def _beats_base_rate(m: dict[str, Any]) -> tuple[bool, str]:
    if m["auc"] <= 0.5 + AUC_MARGIN:
        return False, (
            f"Not activated: validation AUC {m['auc']:.3f} is not above "
            f"{0.5 + AUC_MARGIN:.2f}; the model ranks leads barely better than chance."
        )
    if m["brier"] >= m["base_rate_brier"]:
        return False, (
            f"Not activated: Brier score {m['brier']:.4f} is not below {m['base_rate_brier']:.4f}, "
            "the score of always predicting the base rate."
        )
    return (
        True,
        f"Beats the base rate: AUC {m['auc']:.3f}, Brier {m['brier']:.4f} < {m['base_rate_brier']:.4f}.",
    )


def _baseline(spec: FeatureSpec, x: np.ndarray) -> list[Any]:
    """A typical lead: the most frequent level of each category, the median of each number."""
    out: list[Any] = []
    n_cat = len(spec.categorical)
    for j in range(x.shape[1]):
        column = x[:, j]
        if j < n_cat:
            values, counts = np.unique(column.astype(str), return_counts=True)
            out.append(str(values[int(np.argmax(counts))]))
        else:
            numbers = column.astype(float)
            known = numbers[~np.isnan(numbers)]
            out.append(float(np.median(known)) if len(known) else math.nan)
    return out


# --- A labelled CSV, read with the import's mapping, without the database --------------------


@dataclass(frozen=True)
class CsvDataset:
    facts: list[LeadFacts]
    labels: list[int]
    attributes: list[AttributeInfo]


def dataset_from_csv(path: Path, mapping: Mapping, *, at: datetime) -> CsvDataset:
    """The rows of `path` with an outcome, as the import would read and type them.

    Each row becomes the facts of a lead (numbered by its row, so row order = id order) as
    of `at`, with no touches: what an import of the file would give the model, minus the
    database. The real-data tests and the benchmark use it for the 33,000-row bank file.
    """
    reader = CsvReader(path, encoding=mapping.encoding, delimiter=mapping.delimiter)
    validator = RowValidator(mapping, reader.header)
    facts: list[LeadFacts] = []
    labels: list[int] = []
    for raw in reader.rows():
        row = validator.check(raw.number, raw.cells) if not raw.problem else []
        if not isinstance(row, ImportRow) or row.outcome not in ("won", "lost"):
            continue
        facts.append(
            LeadFacts(
                lead_id=row.number,
                at=at,
                source=row.source,
                country=row.values.get("country", ""),
                attributes=row.attributes,
            )
        )
        labels.append(int(row.outcome == "won"))
    attributes = [AttributeInfo(a.key, a.column, a.type) for a in mapping.attributes]
    return CsvDataset(facts, labels, attributes)


# --- Storing, training from the database, activating ------------------------------------------


def artifact_dump(result: FitResult) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(
        {"pipeline": result.pipeline, "spec": result.spec, "baseline": result.baseline},
        buffer,
        compress=3,
    )
    return buffer.getvalue()


@transaction.atomic
def model_store(
    *,
    result: FitResult,
    outcome: str = "customer",
    horizon_days: int = 180,
    actor: User | None = None,
    activate: bool = True,
) -> PredictiveModel:
    """Store `result` as the next version; activate it when it beats the base rate."""
    last = PredictiveModel.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0
    model = PredictiveModel.objects.create(
        version=last + 1,
        outcome=outcome,
        horizon_days=horizon_days,
        algorithm=result.algorithm,
        features=result.spec.names,
        metrics={**result.metrics, "feature_labels": result.spec.labels},
        artifact=artifact_dump(result),
        status_note=result.note,
        trained_by=actor,
    )
    if activate and result.activatable:
        model = model_activate(version=model.version)
    return model


def model_train(
    *,
    outcome: str = "customer",
    horizon_days: int = 180,
    seed: int = 0,
    split: Split = "auto",
    actor: User | None = None,
    now: datetime | None = None,
) -> PredictiveModel:
    """Train on every lead whose outcome is known; store (and maybe activate) the version."""
    if outcome not in OUTCOMES:
        raise TrainingDataInsufficient(
            f"Unknown outcome {outcome!r}; choose one of: {', '.join(OUTCOMES)}.", loc=("outcome",)
        )
    labelled = outcome_labels(
        outcome=outcome, horizon_days=horizon_days, now=now or timezone.now(), seed=seed
    )
    facts = lead_facts({row.lead_id: row.decision_at for row in labelled})
    created = [row.created_at for row in labelled]
    dates_vary = bool(created) and max(created) - min(created) >= timedelta(days=1)
    result = model_fit(
        facts=facts,
        labels=[row.label for row in labelled],
        order=[(row.created_at, row.lead_id) for row in labelled],
        attributes=attribute_infos(),
        dates_vary=dates_vary,
        split=split,
        seed=seed,
        weights=[row.weight for row in labelled],
    )
    return model_store(result=result, outcome=outcome, horizon_days=horizon_days, actor=actor)

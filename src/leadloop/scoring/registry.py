"""The stored predictive models, read and activated without loading scikit-learn.

The web pages, the API and the predictor import this module; only training imports
scikit-learn (``scoring.training``), so starting Leadloop does not pay for it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.db import transaction
from django.utils import timezone

from leadloop.common.errors import NotFound
from leadloop.scoring.models import PredictiveModel

ALGORITHMS: Final = {
    "logistic_regression": "Logistic regression",
    "hist_gradient_boosting": "Gradient-boosted trees",
}


class ModelNotFound(NotFound):
    code = "model_not_found"


def artifact_load(data: bytes | memoryview) -> dict[str, Any]:
    import joblib  # with scikit-learn behind it: only when a model is really loaded

    loaded: dict[str, Any] = joblib.load(io.BytesIO(bytes(data)))
    return loaded


@transaction.atomic
def model_activate(*, version: int) -> PredictiveModel:
    """Make `version` the one active model (the constraint allows at most one)."""
    try:
        model = PredictiveModel.objects.select_for_update().get(version=version)
    except PredictiveModel.DoesNotExist:
        raise ModelNotFound(f"There is no model version {version}.", loc=("version",)) from None
    PredictiveModel.objects.filter(is_active=True).exclude(pk=model.pk).update(is_active=False)
    if not model.is_active:
        model.is_active, model.activated_at = True, timezone.now()
        model.save(update_fields=["is_active", "activated_at"])
    return model


# --- Reads: the model card (the UI, the API and `model evaluate` share them) ----------------


@dataclass(frozen=True)
class ModelVersionRow:
    version: int
    algorithm: str
    outcome: str
    horizon_days: int
    auc: float | None
    brier: float | None
    is_active: bool
    status_note: str
    trained_at: datetime


DRIFT_GAP: Final = 0.05  # an AUC gap between the splits worth a plain-words note


def model_versions() -> list[ModelVersionRow]:
    rows = PredictiveModel.objects.defer("artifact").order_by("-version")
    return [
        ModelVersionRow(
            m.version,
            m.algorithm,
            m.outcome,
            m.horizon_days,
            m.metrics.get("auc"),
            m.metrics.get("brier"),
            m.is_active,
            m.status_note,
            m.trained_at,
        )
        for m in rows
    ]


def model_card(*, version: int | None = None) -> dict[str, Any] | None:
    """The metrics of `version` (default: the active model, else the newest) as plain JSON."""
    rows = PredictiveModel.objects.defer("artifact")
    if version is not None:
        model = rows.filter(version=version).first()
        if model is None:
            raise ModelNotFound(f"There is no model version {version}.", loc=("version",))
    else:
        model = rows.filter(is_active=True).first() or rows.order_by("-version").first()
    if model is None:
        return None
    m = model.metrics
    splits = m.get("splits") or {}
    return {
        "version": model.version,
        "algorithm": model.algorithm,
        "algorithm_label": ALGORITHMS.get(model.algorithm, model.algorithm),
        "outcome": model.outcome,
        "horizon_days": model.horizon_days,
        "is_active": model.is_active,
        "status_note": model.status_note,
        "trained_at": model.trained_at.isoformat(),
        "split": m.get("split"),
        "auc": m.get("auc"),
        "brier": m.get("brier"),
        "log_loss": m.get("log_loss"),
        "base_rate": m.get("base_rate"),
        "base_rate_brier": m.get("base_rate_brier"),
        "sizes": m.get("sizes", {}),
        "candidates": m.get("candidates", {}),
        "calibration": m.get("calibration", []),
        "features": [
            {"name": n, "label": (m.get("feature_labels") or {}).get(n, n)} for n in model.features
        ],
        "splits": {k: _split_summary(v) for k, v in splits.items()},
        "drift_note": _drift_note(splits),
    }


def _split_summary(figures: dict[str, Any] | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    keys = ("auc", "brier", "log_loss", "base_rate", "base_rate_brier", "sizes")
    return {k: figures.get(k) for k in keys}


def _drift_note(splits: dict[str, Any]) -> str:
    random = splits.get("random")
    ordered_name = "time" if "time" in splits else "row_order"
    ordered = splits.get(ordered_name)
    if not random or not ordered:
        return ""
    gap = random["auc"] - ordered["auc"]
    if abs(gap) < DRIFT_GAP:
        return (
            "The model ranks newer leads about as well as a random sample of leads: "
            "what predicted conversion in the past still does."
        )
    what = "the newest leads (by creation time)" if ordered_name == "time" else "the last rows"
    if gap > 0:
        return (
            f"Drift: trained on older leads, the model ranks {what} much worse "
            f"(AUC {ordered['auc']:.2f}) than a random sample ({random['auc']:.2f}). "
            "What made leads convert has changed over time; expect newer leads to be "
            "scored less reliably than the random-split figure suggests, and retrain often."
        )
    return (
        f"The model ranks {what} better (AUC {ordered['auc']:.2f}) than a random sample "
        f"({random['auc']:.2f}); the newer leads are easier to tell apart."
    )

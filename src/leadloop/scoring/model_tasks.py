"""Background training of the predictive model (the model card's "Train" button)."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.utils import timezone
from django_tasks import TaskResultStatus, task

from leadloop.accounts.models import User


@task()
def train_model(
    *,
    outcome: str = "customer",
    horizon_days: int = 180,
    seed: int = 0,
    actor_id: int | None = None,
) -> dict[str, object]:
    """Train and store a new version; returns what the status panel shows.

    Safe to run twice: each run stores its own version, and only one that beats the base rate
    (and is the newest to finish) is active.
    """
    # scikit-learn loads here, in the worker, not when the web process imports this module.
    from leadloop.scoring.training import TrainingDataInsufficient, model_train

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    try:
        model = model_train(outcome=outcome, horizon_days=horizon_days, seed=seed, actor=actor)
    except TrainingDataInsufficient as e:
        return {"ok": False, "message": e.message}
    return {
        "ok": True,
        "version": model.version,
        "active": model.is_active,
        "message": model.status_note,
    }


_LAST_RUN = "scoring:model_train:last"


def training_start(
    *, actor_id: int | None, outcome: str = "customer", horizon_days: int = 180
) -> str:
    """Enqueue a training run and remember it for the status panel; returns its task id."""
    result = train_model.enqueue(outcome=outcome, horizon_days=horizon_days, actor_id=actor_id)
    cache.set(_LAST_RUN, {"id": str(result.id), "started_at": timezone.now().isoformat()}, 86400)
    return str(result.id)


def training_status() -> dict[str, Any] | None:
    """The latest training run: ``state`` (queued, running, done, failed) and its message."""
    last = cache.get(_LAST_RUN)
    if not last:
        return None
    state, message = "queued", ""
    try:
        result = train_model.get_result(last["id"])
    except Exception:  # a backend that keeps no results (immediate, dummy) or an expired id
        return {**last, "state": "unknown", "message": "", "live": False}
    status = result.status
    if status == TaskResultStatus.RUNNING:
        state = "running"
    elif status == TaskResultStatus.FAILED:
        state, message = "failed", "Training failed; see the worker's log."
    elif status == TaskResultStatus.SUCCESSFUL:
        value = result.return_value or {}
        state = "done" if value.get("ok") else "failed"
        message = str(value.get("message", ""))
    return {**last, "state": state, "message": message, "live": state in ("queued", "running")}

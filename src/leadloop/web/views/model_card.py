"""The predictive model's card: versions, metrics, calibration chart, train and activate.

The chart reads ``model_card()`` through ``json_script``; ``GET /api/v1/scoring/model`` returns
the same selector's JSON, so the page and the API cannot disagree.
"""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from leadloop.accounts.models import Role
from leadloop.common.errors import NotFound
from leadloop.scoring.model_tasks import training_start, training_status
from leadloop.scoring.registry import model_activate, model_card, model_versions
from leadloop.web.views.common import AuthedRequest

MODEL_ROLES = frozenset({Role.MARKETING_OPS, Role.REVENUE_LEADER, Role.ADMIN})


def _allowed(request: AuthedRequest) -> None:
    if request.user.role not in MODEL_ROLES and not request.user.is_superuser:
        raise PermissionDenied("Only marketing ops, revenue leaders and admins see the model.")


@login_required
@require_GET
def model_index(request: AuthedRequest) -> HttpResponse:
    _allowed(request)
    version = request.GET.get("version", "")
    try:
        card = model_card(version=int(version) if version.isdigit() else None)
    except NotFound as e:
        raise Http404(e.message) from e
    context = {
        "card": card,
        "versions": model_versions(),
        "training": training_status(),
    }
    return render(request, "web/scoring/model.html", context)


@login_required
@require_GET
def model_training_status(request: AuthedRequest) -> HttpResponse:
    """The training panel alone, polled by htmx while a run is queued or running."""
    _allowed(request)
    return render(request, "web/scoring/model_training.html", {"training": training_status()})


@login_required
@require_POST
def model_train_view(request: AuthedRequest) -> HttpResponse:
    _allowed(request)
    transaction.on_commit(partial(training_start, actor_id=request.user.pk))
    messages.success(request, "Training started; the new version appears here when it is done.")
    return redirect("web:model_card")


@login_required
@require_POST
def model_activate_view(request: AuthedRequest, version: int) -> HttpResponse:
    _allowed(request)
    try:
        model = model_activate(version=version)
    except NotFound as e:
        raise Http404(e.message) from e
    messages.success(request, f"Model v{model.version} is now the active model.")
    return redirect("web:model_card")

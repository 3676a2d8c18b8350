"""Scoring rules in the browser: versions of the fit and engagement rules, edit (as a new
version), activate, and watch the background rescore. Marketing ops and admins only."""

from __future__ import annotations

from functools import wraps
from typing import Any, Protocol

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadloop.accounts.models import Role
from leadloop.capture.models import Channel, TouchKind
from leadloop.common.errors import LeadloopError
from leadloop.scoring.models import EngagementRuleSet, FitRuleSet, Operator
from leadloop.scoring.progress import rescore_progress
from leadloop.scoring.selectors import engagement_rulesets, fit_rulesets
from leadloop.scoring.services import (
    COMPANY_FIELDS,
    LEAD_FIELDS,
    engagement_rules_as_data,
    engagement_ruleset_activate,
    engagement_ruleset_create,
    fit_rules_as_data,
    fit_ruleset_activate,
    fit_ruleset_create,
)
from leadloop.web.views.common import AuthedRequest

MAY_EDIT_RULES = frozenset({Role.MARKETING_OPS, Role.ADMIN})
_LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN, Operator.BETWEEN})


class _View(Protocol):
    def __call__(self, request: AuthedRequest, /, *args: Any, **kwargs: Any) -> HttpResponse: ...


def _rules_editor(view: _View) -> _View:
    @wraps(view)
    def inner(request: AuthedRequest, /, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.role not in MAY_EDIT_RULES and not request.user.is_superuser:
            raise PermissionDenied("Only marketing ops and admins edit scoring rules.")
        return view(request, *args, **kwargs)

    return inner


def _value(text: str, operator: str) -> Any:
    """A typed value from the form: lists split on commas, numbers as numbers."""

    def one(part: str) -> Any:
        part = part.strip()
        try:
            return int(part)
        except ValueError:
            try:
                return float(part)
            except ValueError:
                return part

    if operator in (Operator.IS_SET, Operator.IS_NOT_SET):
        return None
    if operator in _LIST_OPERATORS:
        return [one(p) for p in text.split(",") if p.strip()]
    return one(text)


def _value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _int(text: str, default: int | None = None) -> int | None:
    try:
        return int(text.strip())
    except (ValueError, AttributeError):
        return default


def _fit_rows(request: AuthedRequest) -> list[dict[str, Any]]:
    post = request.POST
    rows = []
    fields = zip(
        post.getlist("attribute"),
        post.getlist("operator"),
        post.getlist("value"),
        post.getlist("points"),
        post.getlist("label"),
        strict=False,
    )
    for attribute, operator, value, points, label in fields:
        if not attribute.strip():
            continue  # an empty row: left blank or removed
        rows.append(
            {
                "attribute": attribute.strip(),
                "operator": operator,
                "value": _value(value, operator),
                "points": _int(points, 0),
                "label": label.strip(),
            }
        )
    return rows


def _attribute_choices() -> list[str]:
    from leadloop.leads.models import AttributeDefinition

    return [
        *(f"lead.{f}" for f in sorted(LEAD_FIELDS)),
        *(f"company.{f}" for f in sorted(COMPANY_FIELDS)),
        *(f"attributes.{k}" for k in AttributeDefinition.objects.values_list("key", flat=True)),
    ]


@login_required
@_rules_editor
@require_http_methods(["GET", "POST"])
def fit_rules(request: AuthedRequest) -> HttpResponse:
    versions = list(fit_rulesets())
    active = next((v for v in versions if v.is_active), versions[0] if versions else None)
    rows = fit_rules_as_data(active) if active else []
    error = ""
    if request.method == "POST":
        rows = _fit_rows(request)
        grades = tuple(
            _int(request.POST.get(f"grade_{g}", ""), d) or 0
            for g, d in (("a", 75), ("b", 50), ("c", 25))
        )
        try:
            ruleset = fit_ruleset_create(
                rules=rows,
                grades=(grades[0], grades[1], grades[2]),
                note=request.POST.get("note", "")[:2000],
                actor=request.user,
            )
            if request.POST.get("activate"):
                fit_ruleset_activate(ruleset_id=ruleset.pk, actor=request.user)
                messages.success(
                    request, f"Fit rules v{ruleset.version} are active; rescoring all leads."
                )
            else:
                messages.success(request, f"Saved fit rules v{ruleset.version} (not active).")
            return redirect("web:scoring_fit")
        except LeadloopError as e:
            error = e.message
    context = {
        "versions": versions,
        "active": active,
        "rows": [{**r, "value_text": _value_text(r["value"])} for r in rows],
        "operators": Operator.choices,
        "attributes": _attribute_choices(),
        "error": error,
        "progress": rescore_progress(),
    }
    return render(request, "web/scoring/fit.html", context)


@login_required
@_rules_editor
@require_POST
def fit_activate(request: AuthedRequest, ruleset_id: int) -> HttpResponse:
    ruleset = get_object_or_404(FitRuleSet, pk=ruleset_id)
    fit_ruleset_activate(ruleset_id=ruleset.pk, actor=request.user)
    messages.success(request, f"Fit rules v{ruleset.version} are active; rescoring all leads.")
    return redirect("web:scoring_fit")


def _engagement_rows(request: AuthedRequest) -> list[dict[str, Any]]:
    post = request.POST
    rows = []
    fields = zip(
        post.getlist("touch_kind"),
        post.getlist("channel"),
        post.getlist("url_contains"),
        post.getlist("property_equals"),
        post.getlist("points"),
        post.getlist("daily_cap"),
        post.getlist("label"),
        strict=False,
    )
    for kind, channel, url, prop, points, cap, label in fields:
        if not (kind or channel or url.strip() or prop.strip()) and not points.strip():
            continue
        key, _, value = prop.partition("=")
        rows.append(
            {
                "touch_kind": kind,
                "channel": channel,
                "url_contains": url.strip(),
                "property_equals": {key.strip(): value.strip()} if key.strip() else {},
                "points": _int(points, 0),
                "daily_cap": _int(cap),
                "label": label.strip(),
            }
        )
    return rows


@login_required
@_rules_editor
@require_http_methods(["GET", "POST"])
def engagement_rules(request: AuthedRequest) -> HttpResponse:
    versions = list(engagement_rulesets())
    active = next((v for v in versions if v.is_active), versions[0] if versions else None)
    rows = engagement_rules_as_data(active) if active else []
    error = ""
    half_life = active.half_life_days if active else 30.0
    scale = active.scale if active else 50.0
    if request.method == "POST":
        rows = _engagement_rows(request)
        try:
            half_life = float(request.POST.get("half_life_days", "30"))
            scale = float(request.POST.get("scale", "50"))
            ruleset = engagement_ruleset_create(
                rules=rows,
                half_life_days=half_life,
                scale=scale,
                note=request.POST.get("note", "")[:2000],
                actor=request.user,
            )
            if request.POST.get("activate"):
                engagement_ruleset_activate(ruleset_id=ruleset.pk, actor=request.user)
                messages.success(
                    request, f"Engagement rules v{ruleset.version} are active; rescoring all leads."
                )
            else:
                messages.success(request, f"Saved engagement rules v{ruleset.version}.")
            return redirect("web:scoring_engagement")
        except ValueError:
            error = "Half-life and scale must be numbers, such as 30 and 50."
        except LeadloopError as e:
            error = e.message
    context = {
        "versions": versions,
        "active": active,
        "rows": [
            {
                **r,
                "property_text": "; ".join(
                    f"{k}={v}" for k, v in (r["property_equals"] or {}).items()
                ),
            }
            for r in rows
        ],
        "kinds": TouchKind.choices,
        "channels": Channel.choices,
        "half_life": half_life,
        "scale": scale,
        "error": error,
        "progress": rescore_progress(),
    }
    return render(request, "web/scoring/engagement.html", context)


@login_required
@_rules_editor
@require_POST
def engagement_activate(request: AuthedRequest, ruleset_id: int) -> HttpResponse:
    ruleset = get_object_or_404(EngagementRuleSet, pk=ruleset_id)
    engagement_ruleset_activate(ruleset_id=ruleset.pk, actor=request.user)
    messages.success(request, f"Engagement rules v{ruleset.version} are active; rescoring.")
    return redirect("web:scoring_engagement")


@login_required
@_rules_editor
@require_GET
def rescore_status(request: AuthedRequest) -> HttpResponse:
    """The rescore progress fragment; htmx polls it while a rescore runs."""
    return render(request, "web/scoring/_progress.html", {"progress": rescore_progress()})

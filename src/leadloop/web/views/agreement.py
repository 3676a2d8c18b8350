"""The hand-off agreement in the browser: the version in force as a document, the history of
versions with what each changed, the draft editor (marketing ops, admins) and the approvals
(marketing ops for marketing, a sales manager for sales, a revenue leader or admin for either).

Every page draws ``agreements.render`` and ``agreements.diff``, the same structures the
Markdown of ``leadloop agreement show`` and the API use.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadloop.accounts.models import Team
from leadloop.accounts.selectors import sales_people
from leadloop.agreements.diff import agreement_diff
from leadloop.agreements.models import AgreementStatus, AgreementVersion
from leadloop.agreements.render import WEEKDAYS, agreement_render
from leadloop.agreements.schema import AgreementBody
from leadloop.agreements.selectors import (
    AgreementVersionMissing,
    agreement_in_force,
    agreement_predecessor,
    agreement_version_get,
    agreement_versions,
    leads_meeting_thresholds,
)
from leadloop.agreements.services import (
    agreement_approve,
    agreement_draft_create,
    agreement_draft_update,
    agreement_withdraw,
    approval_sides_open,
    may_draft,
)
from leadloop.agreements.validation import AgreementInvalid, FieldError
from leadloop.capture.models import Form, TouchKind
from leadloop.common.errors import LeadloopError
from leadloop.content.models import ContentKind
from leadloop.web.views.agreement_editor import (
    State,
    body_from_editor,
    editor_errors,
    editor_from_body,
    editor_from_post,
)
from leadloop.web.views.common import AuthedRequest

_RULE_KINDS = [
    ("named_account", "Named account: the company's owner"),
    ("territory", "Territory: countries, regions"),
    ("sector", "Sector"),
    ("company_size", "Company size"),
    ("round_robin", "Every lead (round robin)"),
]
_SALES_FIELDS = [
    ("first_response_hours", "First response within", "business hours"),
    ("contact_attempt_hours", "Contact attempt within", "business hours"),
    ("decision_days", "Accept or reject within", "business days"),
    ("remind_before_hours", "Remind the owner before a deadline", "hours"),
]
_ACTIONS = [
    ("nurture", "Nurture"),
    ("recycle", "Recycle"),
    ("disqualify", "Disqualify"),
    ("merge_duplicate", "Merge as duplicate"),
]


def _version(number: int) -> AgreementVersion:
    try:
        return agreement_version_get(number=number)
    except AgreementVersionMissing as exc:
        raise Http404(exc.message) from exc


def _drafter(request: AuthedRequest) -> None:
    if not may_draft(request.user):
        raise PermissionDenied("Marketing ops (or an admin) drafts the agreement.")


# --- Reading ----------------------------------------------------------------------------------


@login_required
@require_GET
def agreement_page(request: AuthedRequest) -> HttpResponse:
    """The version in force as a readable document, with its changes and the open drafts."""
    version = _version(agreement_in_force().number)
    context = {
        "version": version,
        "rendered": agreement_render(version=version),
        "diff": agreement_diff(old=agreement_predecessor(version), new=version),
        "drafts": list(agreement_versions().filter(status=AgreementStatus.DRAFT)),
        "may_draft": may_draft(request.user),
    }
    return render(request, "web/agreement/page.html", context)


@login_required
@require_GET
def agreement_history(request: AuthedRequest) -> HttpResponse:
    agreement_in_force()  # an installation without a version gets version 1
    versions = list(agreement_versions())
    rows = [(v, {a.side: a for a in v.approvals.all()}) for v in versions]
    return render(
        request,
        "web/agreement/history.html",
        {"rows": rows, "may_draft": may_draft(request.user)},
    )


def _impact(version: AgreementVersion, against: AgreementVersion | None) -> dict[str, Any] | None:
    """How many scored leads meet the draft's thresholds now against the version in force."""
    if against is None:
        return None
    new = AgreementBody.model_validate(version.body).qualification.groups
    old = AgreementBody.model_validate(against.body).qualification.groups
    if new == old:
        return None
    draft, current = leads_meeting_thresholds(groups=new), leads_meeting_thresholds(groups=old)
    if not draft.scored:
        return None  # nothing scored yet: no numbers to compare
    return {"draft": draft.meeting, "current": current.meeting, "scored": draft.scored}


@login_required
@require_GET
def agreement_version_page(request: AuthedRequest, number: int) -> HttpResponse:
    """One version: the document, what it changes, and for a draft its approvals."""
    version = _version(number)
    previous = agreement_predecessor(version)
    is_draft = version.status == AgreementStatus.DRAFT
    context = {
        "version": version,
        "rendered": agreement_render(version=version),
        "diff": agreement_diff(old=previous, new=version),
        "previous": previous,
        "is_draft": is_draft,
        "may_draft": may_draft(request.user),
        "may_edit": is_draft and may_draft(request.user) and not version.approvals.all(),
        "sides_open": approval_sides_open(version=version, actor=request.user),
        "impact": _impact(version, previous) if is_draft else None,
    }
    return render(request, "web/agreement/version.html", context)


# --- The editor -------------------------------------------------------------------------------


def _choices(state: State) -> dict[str, Any]:
    teams = set(Team.objects.values_list("name", flat=True))
    teams |= {state["routing"]["marketing_queue"], state["routing"]["fallback_queue"]}
    teams |= {r["team"] for r in state["rules"] if r.get("team")}
    people = [(u.username, f"{u} ({u.username})") for u in sales_people().order_by("username")]
    known = {p for p, _ in people}
    people += [
        (p["username"], p["username"])
        for r in state["rules"]
        for p in r["reps"]
        if p["username"] not in known
    ]
    triggers = [
        ("Touch kind", [(f"touch_kind:{v}", f"Touch: {label}") for v, label in TouchKind.choices]),
        (
            "Form",
            [(f"form_slug:{s}", f"Form: {n}") for s, n in Form.objects.values_list("slug", "name")],
        ),
        (
            "Content offer kind",
            [(f"content_kind:{v}", f"Content: {label}") for v, label in ContentKind.choices],
        ),
    ]
    return {
        "grades": ["A", "B", "C", "D"],
        "rule_kinds": _RULE_KINDS,
        "teams": sorted(t for t in teams if t),
        "people": people,
        "triggers": triggers,
        "actions": _ACTIONS,
        "reason_kinds": [("reject", "Reject"), ("lost", "Lost")],
        "weekdays": list(enumerate(WEEKDAYS)),
        "periods": [("week", "a week"), ("month", "a month")],
        "time_zones": sorted(available_timezones()),
    }


def _editor_page(
    request: AuthedRequest, state: State, *, draft: AgreementVersion | None, base: AgreementVersion
) -> HttpResponse:
    errors = state["errors"]
    count = len(_error_messages(state))
    sales_errors = errors.get("sales", {})
    context = {
        "state": state,
        "draft": draft,
        "base": base,
        "next_number": _next_number(),
        "error_count": count,
        "banner": errors.get("banner", []),
        "sales_fields": [
            {
                "name": name,
                "label": label,
                "unit": unit,
                "value": state["sales"][name],
                "error": sales_errors.get(name),
            }
            for name, label, unit in _SALES_FIELDS
        ],
        "new_rule": {"kind": "round_robin", "reps": []},
        "new_reason": {"kind": "reject", "action": "disqualify"},
        **_choices(state),
    }
    return render(request, "web/agreement/editor.html", context, status=400 if count else 200)


def _next_number() -> int:
    latest = agreement_versions().order_by("-number").values_list("number", flat=True).first()
    return (latest or 0) + 1


def _error_messages(state: State) -> list[str]:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(state["errors"])
    for key in ("groups", "raisers", "rules", "reasons"):
        for row in state[key]:
            walk(row.get("errors", {}))
            for rep in row.get("reps", []):
                walk(rep.get("errors", {}))
    return out


def _refused(state: State, exc: LeadloopError) -> None:
    errors = (
        exc.errors if isinstance(exc, AgreementInvalid) else (FieldError(exc.loc, exc.message),)
    )
    editor_errors(state, errors)


@login_required
@require_http_methods(["GET", "POST"])
def agreement_draft_new(request: AuthedRequest) -> HttpResponse:
    """A new draft from the version in force, edited in full before it is saved."""
    _drafter(request)
    base = agreement_in_force().version
    if request.method == "GET":
        state = editor_from_body(title="", preamble=base.preamble, body=base.body)
        return _editor_page(request, state, draft=None, base=base)
    state = editor_from_post(request.POST)
    try:
        draft = agreement_draft_create(
            actor=request.user,
            title=state["title"],
            preamble=state["preamble"],
            body=body_from_editor(state),
            based_on_id=base.pk,
        )
    except LeadloopError as exc:
        _refused(state, exc)
        return _editor_page(request, state, draft=None, base=base)
    messages.success(
        request, f"Draft v{draft.number} saved. It takes effect when both teams approve it."
    )
    return redirect("web:agreement_version", number=draft.number)


@login_required
@require_http_methods(["GET", "POST"])
def agreement_draft_edit(request: AuthedRequest, number: int) -> HttpResponse:
    """Change a draft nobody approved yet."""
    _drafter(request)
    draft = _version(number)
    base = draft.based_on or agreement_in_force().version
    if request.method == "GET":
        if draft.status != AgreementStatus.DRAFT or draft.approvals.all():
            messages.error(request, f"Version {number} can no longer change.")
            return redirect("web:agreement_version", number=number)
        state = editor_from_body(title=draft.title, preamble=draft.preamble, body=draft.body)
        return _editor_page(request, state, draft=draft, base=base)
    state = editor_from_post(request.POST)
    try:
        agreement_draft_update(
            version_id=draft.pk,
            actor=request.user,
            title=state["title"],
            preamble=state["preamble"],
            body=body_from_editor(state),
        )
    except LeadloopError as exc:
        _refused(state, exc)
        return _editor_page(request, state, draft=draft, base=base)
    messages.success(request, f"Draft v{number} saved.")
    return redirect("web:agreement_version", number=number)


# --- Approving --------------------------------------------------------------------------------


@login_required
@require_POST
def agreement_approve_view(request: AuthedRequest, number: int) -> HttpResponse:
    version = _version(number)
    side = request.POST.get("side") or None
    try:
        approved = agreement_approve(
            version_id=version.pk,
            actor=request.user,
            side=side,
            note=request.POST.get("note", ""),
        )
    except LeadloopError as exc:
        messages.error(request, exc.message)
        return redirect("web:agreement_version", number=number)
    if approved.status == AgreementStatus.IN_FORCE:
        messages.success(request, f"Both teams approved: version {number} is in force from now on.")
        return redirect("web:agreement")
    mine = next(a for a in approved.approvals.all() if a.user_id == request.user.pk)
    messages.success(
        request,
        f"Approved for {mine.get_side_display().lower()}. Version {number} takes effect when "
        "the other side approves.",
    )
    return redirect("web:agreement_version", number=number)


@login_required
@require_POST
def agreement_withdraw_view(request: AuthedRequest, number: int) -> HttpResponse:
    _drafter(request)
    version = _version(number)
    try:
        agreement_withdraw(version_id=version.pk, actor=request.user)
    except LeadloopError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Draft v{number} withdrawn; it will not take effect.")
    return redirect("web:agreement_version", number=number)

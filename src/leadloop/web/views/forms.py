"""The form builder of marketing ops: the list of forms, a new form, editing one, and the
submissions of a form that could not be captured (retry or discard each, or retry them all).

The page posts the whole definition; rows of fields are ``f-<n>-label``, ``f-<n>-name``, … in
the order shown (the builder's script renumbers them as rows are added, moved or removed).
``capture.forms.form_create`` / ``form_update`` check it and name each problem's input.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadloop.capture.forms import (
    ATTRIBUTE_PREFIX,
    FIELD_TYPE_LABELS,
    LEAD_TARGETS,
    FormInvalid,
    FormSpec,
    can_edit_forms,
    form_choices,
    form_create,
    form_get,
    form_list,
    form_update,
)
from leadloop.capture.models import Form
from leadloop.common import errors
from leadloop.common.errors import NotFound
from leadloop.lifecycle.selectors import month_period
from leadloop.loop.intake import (
    submission_discard,
    submission_retry,
    submissions_failed,
    submissions_retry,
    submissions_waiting,
)
from leadloop.web.views.common import AuthedRequest, viewer_zone

SUBMISSIONS_PAGE_SIZE = 50
_ROW_KEY = re.compile(r"^f-(\d+)-(label|name|type|required|maps_to|attribute|choices)$")
_STARTER_FIELDS: list[dict[str, Any]] = [
    {"label": "E-mail", "name": "email", "type": "email", "required": True, "maps_to": "email"},
    {"label": "First name", "name": "first_name", "type": "text", "maps_to": "first_name"},
    {"label": "Last name", "name": "last_name", "type": "text", "maps_to": "last_name"},
    {"label": "Company", "name": "company", "type": "text", "maps_to": "company_name"},
]


def _editor(request: AuthedRequest) -> None:
    if not can_edit_forms(request.user):
        raise PermissionDenied("Only marketing ops and admins can manage forms.")


def _rows(post: Any) -> list[dict[str, Any]]:
    """The posted field rows in order; rows left wholly blank are dropped."""
    rows: dict[int, dict[str, Any]] = {}
    for key in post:
        match = _ROW_KEY.match(key)
        if match:
            rows.setdefault(int(match[1]), {})[match[2]] = post.get(key, "")
    result = []
    for _, row in sorted(rows.items()):
        if not any(str(row.get(k, "")).strip() for k in ("label", "name")):
            continue
        maps_to = str(row.get("maps_to", ""))
        if maps_to == "attributes":
            maps_to = ATTRIBUTE_PREFIX + str(row.get("attribute", "")).strip()
        result.append(
            {
                "label": str(row.get("label", "")),
                "name": str(row.get("name", "")).strip(),
                "type": str(row.get("type", "text")),
                "required": bool(row.get("required")),
                "maps_to": maps_to,
                "choices": str(row.get("choices", "")).splitlines(),
            }
        )
    return result


def _int_or_none(value: str) -> int | None:
    return int(value) if value.strip().isdigit() else None


def _spec(post: Any) -> FormSpec:
    return FormSpec(
        name=post.get("name", ""),
        slug=post.get("slug", ""),
        fields=_rows(post),
        consent_text=post.get("consent_text", ""),
        consent_required=bool(post.get("consent_required")),
        content_offer_id=_int_or_none(post.get("content_offer", "")),
        campaign_id=_int_or_none(post.get("campaign", "")),
        submit_label=post.get("submit_label", ""),
        thank_you_message=post.get("thank_you_message", ""),
        redirect_url=post.get("redirect_url", ""),
        allowed_origins=post.get("allowed_origins", "").split(),
        is_active=bool(post.get("is_active")),
    )


def _spec_of(form: Form) -> FormSpec:
    return FormSpec(
        name=form.name,
        slug=form.slug,
        fields=list(form.fields),
        consent_text=form.consent_text,
        consent_required=form.consent_required,
        content_offer_id=form.content_offer_id,
        campaign_id=form.campaign_id,
        submit_label=form.submit_label,
        thank_you_message=form.thank_you_message,
        redirect_url=form.redirect_url,
        allowed_origins=list(form.allowed_origins or []),
        is_active=form.is_active,
    )


def _errors(error: FormInvalid | None, n_rows: int) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(errors by input name, errors of each field row by column) from a FormInvalid."""
    top: dict[str, str] = {}
    rows: list[dict[str, str]] = [{} for _ in range(n_rows)]
    for loc, msg in error.errors if error else []:
        if loc[0] == "fields" and len(loc) == 3 and isinstance(loc[1], int) and loc[1] < n_rows:
            rows[loc[1]].setdefault(str(loc[2]), msg)
        else:
            key = str(loc[0])
            top[key] = f"{top[key]} {msg}" if key in top else msg
    return top, rows


def _page(
    request: AuthedRequest,
    *,
    spec: FormSpec,
    form: Form | None,
    error: FormInvalid | None = None,
) -> HttpResponse:
    top, row_errors = _errors(error, len(spec.fields))
    rows = []
    for raw, errs in zip(spec.fields, row_errors, strict=True):
        maps_to = str(raw.get("maps_to", ""))
        choices = raw.get("choices") or []
        rows.append(
            {
                **raw,
                "maps_to": "attributes" if maps_to.startswith(ATTRIBUTE_PREFIX) else maps_to,
                "attribute": maps_to.removeprefix(ATTRIBUTE_PREFIX)
                if maps_to.startswith(ATTRIBUTE_PREFIX)
                else "",
                "choices": "\n".join(choices) if isinstance(choices, list) else str(choices),
                "errors": errs,
            }
        )
    offers, campaigns = form_choices()
    return render(
        request,
        "web/forms/edit.html",
        {
            "title": f"Edit “{form.name}”" if form else "New form",
            "form_obj": form,
            "spec": spec,
            "rows": rows,
            "errors": top,
            "error_count": len(error.errors) if error else 0,
            "types": FIELD_TYPE_LABELS.items(),
            "targets": LEAD_TARGETS.items(),
            "offers": offers,
            "campaigns": campaigns,
            "origins_text": "\n".join(spec.allowed_origins),
            "public_url": request.build_absolute_uri(f"/f/{form.slug}") if form else "",
            "embed_js": request.build_absolute_uri(f"/f/{form.slug}/embed.js") if form else "",
        },
        status=400 if error else 200,
    )


@login_required
@require_GET
def form_index(request: AuthedRequest) -> HttpResponse:
    _editor(request)
    month = month_period(now=timezone.now(), tz=viewer_zone(request.user))
    waiting = submissions_waiting()
    rows = [(row, *waiting.get(row.form.pk, (0, 0))) for row in form_list(since=month.start)]
    return render(request, "web/forms/list.html", {"rows": rows, "month": month})


@login_required
@require_http_methods(["GET", "POST"])
def form_new(request: AuthedRequest) -> HttpResponse:
    _editor(request)
    if request.method == "GET":
        spec = FormSpec(name="", slug="", fields=_STARTER_FIELDS, submit_label="Submit")
        return _page(request, spec=spec, form=None)
    spec = _spec(request.POST)
    try:
        form = form_create(spec=spec, actor=request.user)
    except FormInvalid as e:
        return _page(request, spec=spec, form=None, error=e)
    messages.success(request, f"Form “{form.name}” created. Share its link or embed it below.")
    return redirect("web:form_edit", form_id=form.pk)


@login_required
@require_http_methods(["GET", "POST"])
def form_edit(request: AuthedRequest, form_id: int) -> HttpResponse:
    _editor(request)
    try:
        form = form_get(form_id=form_id)
    except NotFound as e:
        raise Http404(e.message) from e
    if request.method == "GET":
        return _page(request, spec=_spec_of(form), form=form)
    spec = _spec(request.POST)
    try:
        form = form_update(form_id=form.pk, spec=spec, actor=request.user)
    except FormInvalid as e:
        return _page(request, spec=spec, form=form, error=e)
    messages.success(request, f"Form “{form.name}” saved.")
    return redirect("web:form_edit", form_id=form.pk)


# --- Submissions that could not be captured -----------------------------------------------------


def _form(form_id: int) -> Form:
    try:
        return form_get(form_id=form_id)
    except NotFound as e:
        raise Http404(e.message) from e


def _counts(form: Form) -> dict[str, int]:
    pending, failed = submissions_waiting(form_ids=[form.pk]).get(form.pk, (0, 0))
    return {"pending": pending, "failed": failed}


@login_required
@require_GET
def form_submissions(request: AuthedRequest, form_id: int) -> HttpResponse:
    """The form's failed submissions, oldest first, each with its error."""
    _editor(request)
    form = _form(form_id)
    page = Paginator(submissions_failed(form_id=form.pk), SUBMISSIONS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "web/forms/submissions.html",
        {"form_obj": form, "page": page, **_counts(form)},
    )


def _act(
    request: AuthedRequest,
    *,
    form_id: int,
    submission_id: int,
    act: Callable[..., None],
    note: str,
    message: str,
) -> HttpResponse:
    """Retry or discard one failed submission; from the page (htmx) the answer is the row's
    actions cell, now saying what happened (`note`), and the page's counts."""
    _editor(request)
    form = _form(form_id)
    htmx = bool(getattr(request, "htmx", False))
    error = ""
    try:
        act(actor=request.user, submission_id=submission_id)
    except errors.PermissionDenied as e:
        raise PermissionDenied(e.message) from e
    except NotFound as e:
        # Captured, discarded or retried by someone else meanwhile.
        if not htmx:
            raise Http404(e.message) from e
        error = e.message
    if htmx:
        return render(
            request,
            "web/forms/_submission_done.html",
            {
                "form_obj": form,
                "submission_id": submission_id,
                "note": note,
                "row_error": error,
                **_counts(form),
            },
        )
    messages.success(request, message)
    return redirect("web:form_submissions", form_id=form.pk)


@login_required
@require_POST
def form_submission_retry(request: AuthedRequest, form_id: int, submission_id: int) -> HttpResponse:
    return _act(
        request,
        form_id=form_id,
        submission_id=submission_id,
        act=submission_retry,
        note="Back in the queue: captured in a moment.",
        message="The submission is back in the queue: it will be captured in a moment.",
    )


@login_required
@require_POST
def form_submission_discard(
    request: AuthedRequest, form_id: int, submission_id: int
) -> HttpResponse:
    return _act(
        request,
        form_id=form_id,
        submission_id=submission_id,
        act=submission_discard,
        note="Discarded.",
        message="The submission is discarded: no lead was made from it.",
    )


@login_required
@require_POST
def form_submissions_retry(request: AuthedRequest, form_id: int) -> HttpResponse:
    """Retry every failed submission of the form."""
    _editor(request)
    form = _form(form_id)
    try:
        retried = submissions_retry(actor=request.user, form_id=form.pk)
    except errors.PermissionDenied as e:
        raise PermissionDenied(e.message) from e
    if retried:
        messages.success(
            request,
            f"{retried} submission{'s are' if retried != 1 else ' is'} back in the queue: "
            "captured in a moment. Any that fails again comes back here with its error.",
        )
    else:
        messages.info(request, "Nothing to retry: no submission of this form has failed.")
    return redirect("web:form_submissions", form_id=form.pk)

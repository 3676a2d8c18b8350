"""Suspected duplicates: the list, two leads side by side, merge and "not a duplicate".

For marketing ops, sales managers and admins (``loop.merge.MERGE_ROLES``); others get 403.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from leadloop.common.errors import LeadloopError
from leadloop.leads.selectors import duplicate_suspects
from leadloop.leads.services import duplicate_dismiss
from leadloop.loop.merge import MERGE_ROLES, Keep, MergePreview, lead_merge, merge_preview
from leadloop.web.views.common import AuthedRequest

PAGE_SIZE = 50


def _require_reviewer(request: AuthedRequest) -> None:
    if request.user.role not in MERGE_ROLES:
        raise PermissionDenied(
            "Reviewing duplicates is for marketing ops, sales managers and admins."
        )


class MergeForm(forms.Form):
    """Which lead survives, and per conflicting field which lead's value to keep (by lead id)."""

    survivor = forms.TypedChoiceField(coerce=int)

    def __init__(self, *args: Any, preview: MergePreview, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ids = [(preview.a.lead.pk, str(preview.a.lead)), (preview.b.lead.pk, str(preview.b.lead))]
        survivor = self.fields["survivor"]
        assert isinstance(survivor, forms.TypedChoiceField)
        survivor.choices = ids
        survivor.initial = preview.survivor_default_id
        for field in preview.fields:
            if field.conflict:
                self.fields[f"keep_{field.key}"] = forms.TypedChoiceField(
                    coerce=int, choices=ids, initial=preview.survivor_default_id
                )
        self.preview = preview

    def duplicate_id(self) -> int:
        a, b = self.preview.a.lead.pk, self.preview.b.lead.pk
        return b if self.cleaned_data["survivor"] == a else a

    def keep(self) -> dict[str, Keep]:
        survivor: int = self.cleaned_data["survivor"]
        return {
            name.removeprefix("keep_"): "survivor" if value == survivor else "duplicate"
            for name, value in self.cleaned_data.items()
            if name.startswith("keep_")
        }


def _preview(a_id: int, b_id: int) -> MergePreview:
    try:
        return merge_preview(a_id=a_id, b_id=b_id)
    except LeadloopError as e:  # a lead that is gone, or a lead paired with itself
        raise Http404(e.message) from e


@login_required
@require_GET
def duplicate_index(request: AuthedRequest) -> HttpResponse:
    _require_reviewer(request)
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        number = 1
    page = duplicate_suspects(page=number, per_page=PAGE_SIZE)
    return render(request, "web/duplicates/list.html", {"page": page})


@login_required
@require_GET
def duplicate_compare(request: AuthedRequest, a_id: int, b_id: int) -> HttpResponse:
    _require_reviewer(request)
    preview = _preview(a_id, b_id)
    form = MergeForm(preview=preview)
    return render(
        request,
        "web/duplicates/compare.html",
        {"preview": preview, "form": form, "rows": _rows(form)},
    )


def _rows(form: MergeForm) -> list[dict[str, Any]]:
    """The field rows of the compare table, with the lead id checked by default in a conflict."""
    return [
        {"field": f, "checked": form.fields[f"keep_{f.key}"].initial if f.conflict else None}
        for f in form.preview.fields
    ]


@login_required
@require_POST
def duplicate_merge(request: AuthedRequest, a_id: int, b_id: int) -> HttpResponse:
    _require_reviewer(request)
    preview = _preview(a_id, b_id)
    form = MergeForm(request.POST, preview=preview)
    if not form.is_valid():
        messages.error(request, "Choose which lead survives and which value to keep in each row.")
        return redirect("web:duplicate_compare", a_id=a_id, b_id=b_id)
    try:
        merge = lead_merge(
            survivor_id=form.cleaned_data["survivor"],
            duplicate_id=form.duplicate_id(),
            actor=request.user,
            keep=form.keep(),
        )
    except LeadloopError as e:
        messages.error(request, e.message)
        return redirect("web:duplicate_list")
    messages.success(
        request,
        f"Lead {merge.merged_lead_id} merged into {merge.survivor} (lead {merge.survivor_id}); "
        "its touches and stage history are now on the survivor.",
    )
    return redirect("web:duplicate_list")


@login_required
@require_POST
def duplicate_dismiss_view(request: AuthedRequest, a_id: int, b_id: int) -> HttpResponse:
    _require_reviewer(request)
    try:
        duplicate_dismiss(lead_ids=(a_id, b_id), actor=request.user)
    except LeadloopError as e:
        messages.error(request, e.message)
    else:
        messages.success(request, f"Leads {a_id} and {b_id} marked as different people.")
    return redirect("web:duplicate_list")

"""The lead list (search, filters, pages; htmx swaps the results in place) and the lead page
with its stage panel: the moves the signed-in person may make, posted with htmx."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from leadloop.accounts.models import Team, User
from leadloop.accounts.selectors import sales_people
from leadloop.agreements.render import qualification_sentence
from leadloop.agreements.selectors import agreement_in_force
from leadloop.common.errors import LeadloopError, NotFound
from leadloop.leads.models import Lead, Stage
from leadloop.leads.selectors import LeadFilters, lead_get, lead_list, lead_sources
from leadloop.lifecycle.models import StageChange
from leadloop.loop.lifecycle import lead_lose, lead_move, lead_reject
from leadloop.loop.selectors import (
    lead_find,
    lead_timeline_explained,
    moves_for,
    moves_refused_because,
    reason_labels,
    stage_actions,
)
from leadloop.scoring.selectors import lead_scores, score_history
from leadloop.web.forms import LeadFilterForm
from leadloop.web.views.common import AuthedRequest, viewer_zone
from leadloop.web.views.routing import assignment_panel_context

PAGE_SIZE = 50
QUICK_RESULTS = 8
DUPLICATE_OPTIONS = 8


def _owners() -> list[User]:
    return list(sales_people())


def _queues() -> list[Team]:
    return list(Team.objects.order_by("name"))


def _wants_partial(request: AuthedRequest) -> bool:
    # A history restore after a cache miss needs the whole page, not the swapped fragment.
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request  # type: ignore[union-attr]


@login_required
@require_GET
@vary_on_headers("HX-Request")
def lead_index(request: AuthedRequest) -> HttpResponse:
    form = LeadFilterForm(
        request.GET,
        owners=_owners(),
        sources=lead_sources(),
        tz=viewer_zone(request.user),
        queues=_queues(),
    )
    leads = lead_list(filters=form.filters(viewer=request.user))
    page = Paginator(leads, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "filtered": form.active_count > 0 or bool(request.GET.get("q")),
    }
    if _wants_partial(request):
        return render(request, "web/leads/_results.html", context)
    return render(request, "web/leads/list.html", context)


@login_required
@require_GET
def lead_search(request: AuthedRequest) -> HttpResponse:
    """The top bar's quick results: a few leads matching name, e-mail or company."""
    q = request.GET.get("q", "").strip()[:200]
    leads = list(lead_list(filters=LeadFilters(q=q))[: QUICK_RESULTS + 1]) if q else []
    return render(
        request,
        "web/leads/_quick_results.html",
        {"q": q, "leads": leads[:QUICK_RESULTS], "more": len(leads) > QUICK_RESULTS},
    )


def _lead_or_404(lead_id: int) -> Lead:
    try:
        return lead_get(lead_id=lead_id)
    except NotFound as e:
        raise Http404(e.message) from e


def _panel_context(request: AuthedRequest, lead: Lead) -> dict[str, Any]:
    """What the stage panel shows: the buttons `request.user` may press, or why there are none."""
    actions = stage_actions(moves_for(user=request.user, lead=lead))
    return {
        "lead": lead,
        "actions": actions,
        "blocked": "" if actions else moves_refused_because(user=request.user, lead=lead),
        "open": "",
        "values": {},
        "errors": {},
    }


@login_required
@require_GET
def lead_detail(request: AuthedRequest, lead_id: int) -> HttpResponse:
    lead = _lead_or_404(lead_id)
    return render(request, "web/leads/detail.html", _detail_context(request, lead))


@login_required
@require_GET
def lead_stage_panel(request: AuthedRequest, lead_id: int) -> HttpResponse:
    """The stage panel alone: reloaded when the lead changes hands (the owner decides who may
    move it)."""
    lead = _lead_or_404(lead_id)
    return render(request, "web/leads/_stage_panel.html", _panel_context(request, lead))


def _detail_context(request: AuthedRequest, lead: Lead) -> dict[str, Any]:
    return {
        **assignment_panel_context(request, lead),
        **_panel_context(request, lead),
        "timeline": lead_timeline_explained(lead_id=lead.pk),
        "scores": lead_scores(lead=lead),
        "qualification": qualification_sentence(agreement_in_force().body),
        "score_history": [p.__dict__ for p in score_history(lead_id=lead.pk)],
        "attributes": sorted(lead.attributes.items()) if isinstance(lead.attributes, dict) else [],
    }


# --- Stage moves ------------------------------------------------------------------------------

_ANSWERS = ("reject", "lose")


class StageMoveForm(forms.Form):
    """One press of the stage panel: the action, its target, and the reason form's fields."""

    action = forms.CharField(max_length=20)
    to = forms.ChoiceField(choices=Stage.choices, required=False)
    reason = forms.CharField(max_length=100, required=False)
    note = forms.CharField(max_length=5000, required=False, strip=True)
    duplicate_of = forms.CharField(max_length=254, required=False, strip=True)

    def clean_duplicate_of(self) -> int | None:
        key: str = self.cleaned_data["duplicate_of"]
        if not key:
            return None
        found = lead_find(key=key)
        if found is None:
            raise forms.ValidationError(f"No lead with the e-mail or id {key!r}.")
        return found.pk

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("action") not in _ANSWERS and not cleaned.get("to"):
            self.add_error("to", "Choose the stage to move the lead to.")
        return cleaned


def _move(form: StageMoveForm, *, lead: Lead, actor: User) -> StageChange:
    """Call the use case the pressed action stands for; raises its LeadloopError."""
    data = form.cleaned_data
    reason, note, duplicate_of = data["reason"].strip(), data["note"], data["duplicate_of"]
    if data["action"] == "reject":
        return lead_reject(
            lead_id=lead.pk, actor=actor, reason=reason, note=note, duplicate_of=duplicate_of
        )
    if data["action"] == "lose":
        return lead_lose(lead_id=lead.pk, actor=actor, reason=reason, note=note)
    return lead_move(
        lead_id=lead.pk,
        to=Stage(data["to"]),
        actor=actor,
        reason=reason,
        note=note,
        duplicate_of=duplicate_of,
    )


_FIELDS = frozenset({"reason", "note", "duplicate_of"})


def _moved_message(change: StageChange) -> str:
    label = reason_labels([change]).get(change.pk)
    why = f" ({label.label}: {label.next_step})" if label else ""
    return f"Moved from {Stage(change.from_stage).label} to {Stage(change.to_stage).label}{why}."


@login_required
@require_POST
def lead_move_view(request: AuthedRequest, lead_id: int) -> HttpResponse:
    """Make one move of the stage panel. Errors come back beside their field (reason, the
    duplicate, the note) or above the buttons; success swaps the panel, facts and timeline."""
    lead = _lead_or_404(lead_id)
    form = StageMoveForm(request.POST)
    errors: dict[str, str] = {}
    panel_error = ""
    change: StageChange | None = None
    if form.is_valid():
        try:
            change = _move(form, lead=lead, actor=request.user)
        except LeadloopError as e:
            field = str(e.loc[0]) if e.loc else ""
            if field in _FIELDS:
                errors[field] = e.message
            else:
                panel_error = e.message
    else:
        for field, messages_ in form.errors.items():
            if field in _FIELDS:
                errors[field] = " ".join(str(m) for m in messages_)
            else:
                panel_error = " ".join(str(m) for m in messages_)
    if change is not None:
        return _moved(request, lead_id, change, form.cleaned_data["duplicate_of"])
    partial = _wants_partial(request)
    context = {
        **(_panel_context(request, lead) if partial else _detail_context(request, lead)),
        "open": request.POST.get("action", ""),
        "values": {k: request.POST.get(k, "") for k in _FIELDS},
        "errors": errors,
        "panel_error": panel_error,
    }
    if partial:
        # 200, so htmx swaps the panel with its errors in (it leaves 4xx answers unswapped).
        return render(request, "web/leads/_stage_panel.html", context)
    return render(request, "web/leads/detail.html", context, status=400)


def _moved(
    request: AuthedRequest, lead_id: int, change: StageChange, duplicate_of: int | None
) -> HttpResponse:
    message = _moved_message(change)
    lead = Lead.objects.select_related("company", "owner", "queue").filter(pk=lead_id).first()
    if lead is None:
        # Rejected as a duplicate: merged into the lead it duplicates, which is shown instead.
        survivor = duplicate_of if duplicate_of is not None else lead_id
        messages.success(request, f"{message} Merged into lead {survivor}.")
        url = reverse("web:lead_detail", args=[survivor])
        if _wants_partial(request):
            response = HttpResponse()
            response["HX-Redirect"] = url
            return response
        return redirect(url)
    if not _wants_partial(request):
        messages.success(request, message)
        return redirect(lead.get_absolute_url())
    response = render(
        request,
        "web/leads/_stage_moved.html",
        {
            **assignment_panel_context(request, lead),
            **_panel_context(request, lead),
            "timeline": lead_timeline_explained(lead_id=lead.pk),
            "moved": message,
        },
    )
    # A move can change hands too (an answer returns the lead to marketing): panels that show
    # the owner listen for this event.
    response["HX-Trigger"] = "lead-moved"
    return response


@login_required
@require_GET
def lead_duplicate_options(request: AuthedRequest, lead_id: int) -> HttpResponse:
    """Suggestions for "the lead it duplicates": leads matching the typed e-mail, name or id."""
    q = request.GET.get("duplicate_of", "").strip()[:200]
    leads: list[Lead] = []
    if q:
        found = lead_find(key=q)
        leads = [found] if found is not None else []
        leads += list(lead_list(filters=LeadFilters(q=q))[:DUPLICATE_OPTIONS])
    shown = [lead for i, lead in enumerate(leads) if lead.pk != lead_id and lead not in leads[:i]]
    return render(
        request, "web/leads/_duplicate_options.html", {"leads": shown[:DUPLICATE_OPTIONS]}
    )

"""The lead list (search, filters, pages; htmx swaps the results in place) and the lead page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from leadloop.accounts.models import User
from leadloop.accounts.selectors import sales_people
from leadloop.common.errors import NotFound
from leadloop.leads.selectors import LeadFilters, lead_get, lead_list, lead_sources
from leadloop.lifecycle.selectors import lead_timeline
from leadloop.scoring.selectors import lead_scores, score_history
from leadloop.web.forms import LeadFilterForm
from leadloop.web.views.common import AuthedRequest, viewer_zone

PAGE_SIZE = 50
QUICK_RESULTS = 8


def _owners() -> list[User]:
    return list(sales_people())


def _wants_partial(request: AuthedRequest) -> bool:
    # A history restore after a cache miss needs the whole page, not the swapped fragment.
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request  # type: ignore[union-attr]


@login_required
@require_GET
@vary_on_headers("HX-Request")
def lead_index(request: AuthedRequest) -> HttpResponse:
    form = LeadFilterForm(
        request.GET, owners=_owners(), sources=lead_sources(), tz=viewer_zone(request.user)
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


@login_required
@require_GET
def lead_detail(request: AuthedRequest, lead_id: int) -> HttpResponse:
    try:
        lead = lead_get(lead_id=lead_id)
    except NotFound as e:
        raise Http404(e.message) from e
    return render(
        request,
        "web/leads/detail.html",
        {
            "lead": lead,
            "timeline": lead_timeline(lead_id=lead.pk),
            "scores": lead_scores(lead=lead),
            "score_history": [p.__dict__ for p in score_history(lead_id=lead.pk)],
            "attributes": sorted(lead.attributes.items())
            if isinstance(lead.attributes, dict)
            else [],
        },
    )

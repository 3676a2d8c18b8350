"""Reads of leads shared by the API, the UI and exports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet

from leadloop.common.errors import NotFound
from leadloop.leads.models import Lead, Stage


@dataclass(frozen=True)
class LeadFilters:
    """What a lead list can be narrowed by; every field is optional."""

    q: str = ""  # name, e-mail or company
    stage: Stage | None = None
    owner_id: int | None = None
    unowned: bool = False
    source: str = ""
    created_from: dt.datetime | None = None  # inclusive
    created_to: dt.datetime | None = None  # exclusive


def lead_list(*, filters: LeadFilters) -> QuerySet[Lead]:
    """Leads matching `filters`, newest first (ties by id, so the order is total)."""
    leads = Lead.objects.select_related("company", "owner", "queue")
    if filters.q:
        for word in filters.q.split():
            leads = leads.filter(
                Q(email__icontains=word)
                | Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(company__name__icontains=word)
                | Q(company__domain__icontains=word)
            )
    if filters.stage:
        leads = leads.filter(stage=filters.stage)
    if filters.owner_id is not None:
        leads = leads.filter(owner_id=filters.owner_id)
    if filters.unowned:
        leads = leads.filter(owner__isnull=True)
    if filters.source:
        leads = leads.filter(source=filters.source)
    if filters.created_from:
        leads = leads.filter(created_at__gte=filters.created_from)
    if filters.created_to:
        leads = leads.filter(created_at__lt=filters.created_to)
    return leads.order_by("-created_at", "-id")


def lead_get(*, lead_id: int) -> Lead:
    """One lead with its company and owner; raises NotFound naming the id."""
    lead = Lead.objects.select_related("company", "owner", "queue").filter(pk=lead_id).first()
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.", loc=("lead_id",))
    return lead


def lead_sources() -> list[str]:
    """The distinct first-touch sources, for filter menus."""
    return list(
        Lead.objects.exclude(source="")
        .order_by("source")
        .values_list("source", flat=True)
        .distinct()
    )

"""Leads: the list (filtered, cursor-paginated) and one lead with its touches and stage history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import field_validator

from leadloop.accounts.models import User
from leadloop.api.auth import TokenAuth
from leadloop.api.errors import ErrorOut
from leadloop.api.pagination import MAX_LIMIT, keyset_page
from leadloop.capture.models import Touch
from leadloop.leads.models import Lead, Seniority, Stage
from leadloop.leads.selectors import LeadFilters, lead_get, lead_list
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.selectors import stage_history, touch_history

router = Router(tags=["leads"])

# The detail shows the newest touches; `touch_count` says how many there are in all.
DETAIL_TOUCH_LIMIT: Final = 500

_ERRORS: Final = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut}


# --- Query parameters -------------------------------------------------------------------------


class LeadListParams(Schema):
    stage: Stage | None = Field(None, description="Only leads in this lifecycle stage.")
    owner: int | None = Field(None, description="Only leads owned by this user id.")
    source: str = Field("", description="Only leads with this first-touch source.")
    created_after: dt.datetime | None = Field(
        None, description="Created at or after this ISO 8601 time (no offset: UTC)."
    )
    created_before: dt.datetime | None = Field(
        None, description="Created before this ISO 8601 time (no offset: UTC)."
    )
    q: str = Field("", description="Words to find in name, e-mail, company name or domain.")
    cursor: str | None = Field(
        None, description="The `next_cursor` of the previous page; leave out for the first."
    )
    limit: int | None = Field(
        None, ge=1, le=MAX_LIMIT, description="Page size (default: LEADLOOP_API_PAGE_SIZE)."
    )

    @field_validator("created_after", "created_before")
    @classmethod
    def _utc_when_naive(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value

    def to_filters(self) -> LeadFilters:
        return LeadFilters(
            q=self.q.strip(),
            stage=self.stage,
            owner_id=self.owner,
            source=self.source,
            created_from=self.created_after,
            created_to=self.created_before,
        )


# --- Output -----------------------------------------------------------------------------------


class UserRef(Schema):
    id: int
    username: str
    name: str

    @staticmethod
    def resolve_name(obj: User) -> str:
        return str(obj)


class TeamRef(Schema):
    id: int
    name: str


class CompanyRef(Schema):
    id: int
    name: str
    domain: str


class CompanyOut(CompanyRef):
    sector: str
    employee_count: int | None
    country: str
    annual_revenue: Decimal | None
    annual_revenue_currency: str


class LeadOut(Schema):
    """A lead in a list."""

    id: int
    email: str | None
    external_id: str | None
    first_name: str
    last_name: str
    full_name: str
    title: str
    stage: Stage
    stage_changed_at: dt.datetime | None
    cycle: int = Field(description="How many times the lead became MQL.")
    company: CompanyRef | None
    owner: UserRef | None
    queue: TeamRef | None = Field(description="The team queue owning the lead when no person does.")
    source: str
    source_detail: str
    created_at: dt.datetime
    updated_at: dt.datetime


class LeadPageOut(Schema):
    items: list[LeadOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null: no more."
    )


class StageTimestampsOut(Schema):
    """First and latest entry into each stage."""

    lead_first_at: dt.datetime | None
    mql_first_at: dt.datetime | None
    mql_last_at: dt.datetime | None
    sal_first_at: dt.datetime | None
    sal_last_at: dt.datetime | None
    sql_first_at: dt.datetime | None
    sql_last_at: dt.datetime | None
    opportunity_first_at: dt.datetime | None
    opportunity_last_at: dt.datetime | None
    customer_first_at: dt.datetime | None
    nurture_last_at: dt.datetime | None
    disqualified_last_at: dt.datetime | None


class ConsentOut(Schema):
    given: bool = Field(validation_alias="consent_given")
    text: str = Field(validation_alias="consent_text")
    at: dt.datetime | None = Field(validation_alias="consent_at")


class CampaignRef(Schema):
    id: int
    slug: str
    name: str
    channel: str


class ContentOfferRef(Schema):
    id: int
    slug: str
    name: str
    kind: str


class TouchOut(Schema):
    id: int
    kind: str
    channel: str
    source: str
    medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str
    referrer: str
    landing_page: str
    campaign: CampaignRef | None
    content_offer: ContentOfferRef | None
    occurred_at: dt.datetime


class StageChangeOut(Schema):
    id: int
    from_stage: Stage | None = Field(description="Null for the lead's first stage.")
    to_stage: Stage
    actor: UserRef | None = Field(description="Null: the system (see `rule`).")
    rule: str
    reason: str
    note: str
    agreement_version: int | None
    cycle: int
    at: dt.datetime

    @staticmethod
    def resolve_from_stage(obj: StageChange) -> str | None:
        return obj.from_stage or None


class LeadDetailOut(LeadOut):
    """One lead with its newest touches and its whole stage history, newest first."""

    seniority: Seniority
    phone: str
    country: str
    company: CompanyOut | None  # the whole company, not only a reference
    stage_timestamps: StageTimestampsOut
    attributes: dict[str, Any] = Field(description="Custom attributes.")
    consent: ConsentOut
    touch_count: int
    touches: list[TouchOut]
    stage_history: list[StageChangeOut]

    @classmethod
    def build(
        cls,
        *,
        lead: Lead,
        touches: Sequence[Touch],
        touch_count: int,
        history: Sequence[StageChange],
    ) -> LeadDetailOut:
        # One validation pass over the rows: resolvers must not run on already built schemas.
        context = {"touches": touches, "touch_count": touch_count, "history": history}
        return cls.model_validate(lead, context=context)

    @staticmethod
    def resolve_stage_timestamps(obj: Lead) -> Lead:
        return obj

    @staticmethod
    def resolve_consent(obj: Lead) -> Lead:
        return obj

    @staticmethod
    def resolve_touches(obj: Lead, context: dict[str, Any]) -> Sequence[Touch]:
        return context["touches"]

    @staticmethod
    def resolve_touch_count(obj: Lead, context: dict[str, Any]) -> int:
        return context["touch_count"]

    @staticmethod
    def resolve_stage_history(obj: Lead, context: dict[str, Any]) -> Sequence[StageChange]:
        return context["history"]


# --- Endpoints --------------------------------------------------------------------------------


@router.get(
    "/leads",
    response={200: LeadPageOut, 400: ErrorOut, **_ERRORS},
    auth=TokenAuth("leads:read"),
    url_name="lead_list",
    summary="List leads",
    description="Newest first, filtered and cursor-paginated. Needs the scope `leads:read`.",
)
def lead_list_endpoint(request: HttpRequest, params: Query[LeadListParams]) -> LeadPageOut:
    limit = params.limit or settings.LEADLOOP_API_PAGE_SIZE
    page = keyset_page(
        lead_list(filters=params.to_filters()),
        cursor=params.cursor,
        limit=limit,
        field="created_at",
    )
    return LeadPageOut.model_validate(page)


@router.get(
    "/leads/{lead_id}",
    response={200: LeadDetailOut, 404: ErrorOut, **_ERRORS},
    auth=TokenAuth("leads:read"),
    url_name="lead_detail",
    summary="One lead",
    description="The lead, its company, owner, stage timestamps, consent, touches and stage "
    "history. Needs the scope `leads:read`.",
)
def lead_detail_endpoint(request: HttpRequest, lead_id: int) -> LeadDetailOut:
    lead = lead_get(lead_id=lead_id)
    touches = touch_history(lead_id=lead.pk)
    return LeadDetailOut.build(
        lead=lead,
        touches=list(touches[:DETAIL_TOUCH_LIMIT]),
        touch_count=touches.count(),
        history=list(stage_history(lead_id=lead.pk)),
    )

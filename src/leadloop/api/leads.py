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
from leadloop.scoring.models import LeadScore
from leadloop.scoring.selectors import (
    LeadScores,
    engagement_current,
    lead_scores,
    score_history,
)

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
    qualifies: bool | None = Field(
        None, description="Only leads whose scores meet (true) or miss (false) the thresholds."
    )
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
            qualifies=self.qualifies,
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
    fit_score: int | None = Field(None, description="0-100; null: not scored yet.")
    fit_grade: str | None = Field(None, description="A-D; null: not scored yet.")
    engagement_score: int | None = Field(
        None, description="0-100 as of the last scoring (it decays between touches)."
    )
    predicted_probability: float | None = Field(None, description="Null: no model yet.")

    @staticmethod
    def resolve_fit_score(obj: Lead) -> int | None:
        score = _cached_score(obj)
        return score.fit_score if score else None

    @staticmethod
    def resolve_fit_grade(obj: Lead) -> str | None:
        score = _cached_score(obj)
        return score.fit_grade if score else None

    @staticmethod
    def resolve_engagement_score(obj: Lead) -> int | None:
        score = _cached_score(obj)
        return engagement_current(score) if score else None

    @staticmethod
    def resolve_predicted_probability(obj: Lead) -> float | None:
        score = _cached_score(obj)
        return score.predicted_probability if score else None


def _cached_score(obj: Lead) -> LeadScore | None:
    """The score loaded with the lead (``select_related("score")``); never a query."""
    cached = obj._state.fields_cache.get("score")
    return cached if isinstance(cached, LeadScore) else None


class ReasonOut(Schema):
    points: int
    text: str


class ScoresOut(Schema):
    """The lead's three scores, each with its top reasons and what would move it."""

    scored: bool
    fit_score: int
    fit_grade: str
    fit_version: int | None
    fit_reasons: list[ReasonOut]
    fit_moves: list[ReasonOut]
    engagement_score: int
    engagement_version: int | None
    engagement_reasons: list[ReasonOut]
    engagement_moves: list[ReasonOut]
    last_touch_at: dt.datetime | None
    predicted_probability: float | None
    predicted_version: int | None
    predicted_reasons: list[ReasonOut]
    qualifies: bool


class ScorePointOut(Schema):
    at: dt.datetime
    fit: int
    engagement: int
    predicted: int | None
    cause: str


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
    scores: ScoresOut
    score_history: list[ScorePointOut]

    @classmethod
    def build(
        cls,
        *,
        lead: Lead,
        touches: Sequence[Touch],
        touch_count: int,
        history: Sequence[StageChange],
        scores: LeadScores | None = None,
    ) -> LeadDetailOut:
        # One validation pass over the rows: resolvers must not run on already built schemas.
        context = {
            "touches": touches,
            "touch_count": touch_count,
            "history": history,
            "scores": scores or lead_scores(lead=lead),
            "score_history": [p.__dict__ for p in score_history(lead_id=lead.pk)],
        }
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

    @staticmethod
    def resolve_scores(obj: Lead, context: dict[str, Any]) -> LeadScores:
        return context["scores"]

    @staticmethod
    def resolve_fit_score(  # type: ignore[override]  # ninja passes the context
        obj: Lead, context: dict[str, Any]
    ) -> int | None:
        scores: LeadScores = context["scores"]
        return scores.fit_score if scores.scored else None

    @staticmethod
    def resolve_fit_grade(  # type: ignore[override]  # ninja passes the context
        obj: Lead, context: dict[str, Any]
    ) -> str | None:
        scores: LeadScores = context["scores"]
        return scores.fit_grade if scores.scored else None

    @staticmethod
    def resolve_engagement_score(  # type: ignore[override]  # ninja passes the context
        obj: Lead, context: dict[str, Any]
    ) -> int | None:
        scores: LeadScores = context["scores"]
        return scores.engagement_score if scores.scored else None

    @staticmethod
    def resolve_predicted_probability(  # type: ignore[override]  # ninja passes the context
        obj: Lead, context: dict[str, Any]
    ) -> float | None:
        scores: LeadScores = context["scores"]
        return scores.predicted_probability

    @staticmethod
    def resolve_score_history(obj: Lead, context: dict[str, Any]) -> list[dict[str, Any]]:
        return context["score_history"]


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
        lead_list(filters=params.to_filters()).select_related("score"),
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

"""Capture: upsert a lead, record touches one at a time or in batches of up to 1,000.

Every POST here accepts an ``Idempotency-Key`` header: a retry with the same key and body gets
the stored answer without the work being done again (``capture.idempotency``). Touch external
ids make retries safe as well: a touch already recorded is answered as a duplicate.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Final, Literal

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja import Field, Router, Schema
from pydantic import BaseModel, SkipValidation, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from leadloop.accounts.models import ApiToken
from leadloop.api.auth import TokenAuth
from leadloop.api.errors import ErrorItem, ErrorOut
from leadloop.api.leads import LeadOut, TouchOut
from leadloop.api.leads import router as leads_router
from leadloop.capture.idempotency import HEADER, StoredResponse, idempotent_run, request_hash
from leadloop.capture.models import Channel, TouchKind
from leadloop.capture.services import TouchInvalid
from leadloop.leads.models import Seniority
from leadloop.leads.services import LeadData
from leadloop.loop.ingest import (
    BATCH_MAX,
    IngestResult,
    TouchSpec,
    attribution_resolve,
    lead_ingest,
    occurred_at_check,
    touch_capture,
    touches_ingest,
)

router = Router(tags=["capture"])

_ERRORS: Final = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut}
_IDEMPOTENCY: Final = {
    "parameters": [
        {
            "in": "header",
            "name": HEADER,
            "required": False,
            "schema": {"type": "string", "maxLength": 200},
            "description": "Makes a retry safe: the same key with the same body returns the "
            "stored response without doing the work again; with another body, 409.",
        }
    ]
}


# --- Input ------------------------------------------------------------------------------------


class TouchFieldsIn(BaseModel):
    """A touch: what happened, when, and where it came from."""

    # A plain pydantic model, not a ninja Schema: Schema's validator wraps every input for
    # reading Django objects, which costs a third of a batch's time for 1,000 plain dicts.

    kind: TouchKind
    occurred_at: dt.datetime = Field(
        description="Aware ISO 8601 time, not in the future (5 minutes of clock skew allowed)."
    )
    external_id: str = Field(
        "", max_length=200, description="Your id of the touch; a retry with it is a duplicate."
    )
    channel: Channel | None = Field(None, description="Overrides the derived channel.")
    source: str = Field("", max_length=100, description="utm_source; wins over the URLs.")
    medium: str = Field("", max_length=100, description="utm_medium; wins over the URLs.")
    utm_campaign: str = Field("", max_length=200)
    utm_term: str = Field("", max_length=200)
    utm_content: str = Field("", max_length=200)
    landing_page: str = Field("", max_length=2000, description="URL; its utm_* are parsed.")
    referrer: str = Field("", max_length=2000, description="URL of the referring page.")
    campaign: str = Field("", max_length=100, description="A campaign's slug (else utm_campaign).")
    content_offer: str = Field("", max_length=100, description="A content offer's slug.")
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _aware_and_past(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        # A batch validates its items against one clock reading, passed in the context.
        now = info.context.get("now") if isinstance(info.context, dict) else None
        try:
            occurred_at_check(value, now=now)
        except TouchInvalid as exc:
            raise PydanticCustomError(exc.code, exc.message) from None
        return value

    def to_spec(
        self, *, lead_id: int | None = None, email: str = "", lead_external_id: str = ""
    ) -> TouchSpec:
        return TouchSpec(
            kind=self.kind,
            occurred_at=self.occurred_at,
            attribution=attribution_resolve(
                landing_page=self.landing_page,
                referrer=self.referrer,
                source=self.source,
                medium=self.medium,
                campaign=self.utm_campaign,
                term=self.utm_term,
                content=self.utm_content,
            ),
            lead_id=lead_id,
            email=email,
            lead_external_id=lead_external_id,
            channel=self.channel or "",
            campaign=self.campaign,
            content_offer=self.content_offer,
            properties=self.properties,
            external_id=self.external_id,
        )


class TouchIn(TouchFieldsIn):
    """A touch and its lead: by `lead_id`, else by `email` or `lead_external_id` (created when
    new)."""

    lead_id: int | None = Field(None, description="The lead's id in Leadloop.")
    email: str = Field("", max_length=254, description="The lead's e-mail address.")
    lead_external_id: str = Field("", max_length=200, description="The lead's id in your system.")

    def to_touch_spec(self) -> TouchSpec:
        return self.to_spec(
            lead_id=self.lead_id, email=self.email, lead_external_id=self.lead_external_id
        )


class TouchBatchIn(Schema):
    items: Annotated[list[TouchIn], SkipValidation] = Field(
        max_length=BATCH_MAX,
        description=f"1 to {BATCH_MAX} touches; each is checked on its own (see the results).",
    )

    @field_validator("items", mode="before")
    @classmethod
    def _a_list(cls, value: object) -> object:
        if not isinstance(value, list):
            raise PydanticCustomError("list_type", "items must be a list of touches.")
        return value


class LeadIn(Schema):
    """A lead, found by normalised e-mail, else by external id; empty values change nothing."""

    email: str = Field("", max_length=254)
    external_id: str = Field("", max_length=200, description="The lead's id in your system.")
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    title: str = Field("", max_length=200)
    seniority: Seniority = Seniority.UNKNOWN
    phone: str = Field("", max_length=40)
    country: str = Field("", pattern=r"^([A-Za-z]{2})?$", description="ISO 3166-1 alpha-2.")
    company_name: str = Field("", max_length=200)
    company_domain: str = Field("", max_length=253)
    attributes: dict[str, Any] = Field(default_factory=dict)
    consent_text: str = Field("", description="The consent wording the person agreed to.")
    consent_at: dt.datetime | None = Field(None, description="When (default: now).")
    touch: TouchFieldsIn | None = Field(None, description="The lead's touch, e.g. a form fill.")

    @field_validator("consent_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise PydanticCustomError(
                "datetime_naive", "consent_at needs a time zone (an aware ISO 8601 time)."
            )
        return value

    def to_data(self) -> LeadData:
        return LeadData(
            email=self.email,
            external_id=self.external_id,
            first_name=self.first_name,
            last_name=self.last_name,
            title=self.title,
            seniority=self.seniority,
            phone=self.phone,
            country=self.country.upper(),
            company_name=self.company_name,
            company_domain=self.company_domain,
            attributes=self.attributes,
            consent_text=self.consent_text,
            consent_at=self.consent_at,
        )


# --- Output -----------------------------------------------------------------------------------


class LeadCapturedOut(Schema):
    created: bool = Field(description="True: a new lead (201); false: an update (200).")
    changed: list[str] = Field(description="The fields an update changed.")
    lead: LeadOut
    touch: TouchOut | None
    touch_created: bool = Field(description="False: the touch was recorded before.")


class TouchCapturedOut(Schema):
    created: bool = Field(description="True: a new touch (201); false: a duplicate (200).")
    lead_id: int
    lead_created: bool
    touch: TouchOut


class BatchItemOut(Schema):
    index: int
    status: Literal["created", "duplicate", "error"]
    touch_id: int | None
    lead_id: int | None
    errors: list[ErrorItem] = Field(description='loc: ["items", index, field].')


class BatchOut(Schema):
    created: int
    duplicate: int
    error: int
    items: list[BatchItemOut]


# --- Endpoints --------------------------------------------------------------------------------


def _answer(request: HttpRequest, work: Callable[[], StoredResponse]) -> JsonResponse:
    """Run `work`, or return the stored answer to a retry with the same Idempotency-Key."""
    token: ApiToken = request.auth  # type: ignore[attr-defined]
    key = request.headers.get(HEADER)
    digest = request_hash(method=request.method or "", path=request.path, body=request.body)
    stored = idempotent_run(token=token, key=key, request_hash=digest, work=work)
    return JsonResponse(stored.body, status=stored.status)


def _actor(request: HttpRequest) -> Any:
    return request.auth.user  # type: ignore[attr-defined]


# On the leads router: ninja serves one path from one router, and GET /leads lives there.
@leads_router.post(
    "/leads",
    response={200: LeadCapturedOut, 201: LeadCapturedOut, **_ERRORS},
    tags=["capture"],
    auth=TokenAuth("leads:write"),
    url_name="lead_upsert",
    summary="Create or update a lead",
    description="Found by normalised e-mail, else by external id; 201 when created, 200 when "
    "updated. A new lead enters the lifecycle (at its touch's time when one is sent). Needs "
    "the scope `leads:write`.",
    openapi_extra=_IDEMPOTENCY,
)
def lead_upsert_endpoint(request: HttpRequest, payload: LeadIn) -> JsonResponse:
    def work() -> StoredResponse:
        captured = lead_ingest(
            data=payload.to_data(),
            touch=payload.touch.to_spec() if payload.touch else None,
            actor=_actor(request),
        )
        out = LeadCapturedOut(
            created=captured.lead_created,
            changed=list(captured.changed),
            lead=LeadOut.model_validate(captured.lead),
            touch=TouchOut.model_validate(captured.touch) if captured.touch else None,
            touch_created=captured.touch_created,
        )
        return StoredResponse(201 if captured.lead_created else 200, out.model_dump(mode="json"))

    return _answer(request, work)


@router.post(
    "/touches",
    response={200: TouchCapturedOut, 201: TouchCapturedOut, 404: ErrorOut, **_ERRORS},
    auth=TokenAuth("touches:write"),
    url_name="touch_create",
    summary="Record a touch",
    description="The lead is found by `lead_id`, else by `email` or `lead_external_id`, and "
    "created when new. 201 when the touch is new, 200 when it was recorded before. Needs the "
    "scope `touches:write`.",
    openapi_extra=_IDEMPOTENCY,
)
def touch_create_endpoint(request: HttpRequest, payload: TouchIn) -> JsonResponse:
    def work() -> StoredResponse:
        captured = touch_capture(spec=payload.to_touch_spec(), actor=_actor(request))
        out = TouchCapturedOut(
            created=captured.touch_created,
            lead_id=captured.lead.pk,
            lead_created=captured.lead_created,
            touch=TouchOut.model_validate(captured.touch),
        )
        return StoredResponse(201 if captured.touch_created else 200, out.model_dump(mode="json"))

    return _answer(request, work)


@router.post(
    "/touches/batch",
    response={200: BatchOut, **_ERRORS},
    auth=TokenAuth("touches:write"),
    url_name="touch_batch",
    summary="Record up to 1,000 touches",
    description="Each item as in `POST /touches`, checked and recorded on its own: a bad item "
    "is answered with its errors and never blocks the others. One result per item, in order. "
    "Needs the scope `touches:write`.",
    openapi_extra=_IDEMPOTENCY,
)
def touch_batch_endpoint(request: HttpRequest, payload: TouchBatchIn) -> JsonResponse:
    def work() -> StoredResponse:
        with _collector_paused():
            return StoredResponse(200, _batch_run(payload.items, actor=_actor(request)))

    return _answer(request, work)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a batch runs.

    A batch of 1,000 touches allocates tens of thousands of small objects (models, specs, rows,
    answers) that all live until the answer is built and are freed by reference counting then;
    meanwhile they trigger collections that trace them and, every few batches, the whole heap
    of the loaded application (a full collection: ~150 ms here, as long as a batch's own work).
    The pause is bounded by one request and ends even when the batch fails; cycles made
    meanwhile are collected after it. A collector already disabled stays so.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _batch_run(raw_items: list[Any], *, actor: Any) -> dict[str, Any]:
    context = {"now": timezone.now()}  # one clock reading for every item's occurred_at
    answers: list[dict[str, Any] | None] = [None] * len(raw_items)
    specs: list[TouchSpec] = []
    positions: list[int] = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            error = {
                "loc": ["items", index],
                "msg": "An item must be a touch (an object).",
                "type": "dict_type",
            }
            answers[index] = _item(index, "error", errors=[error])
            continue
        try:
            specs.append(TouchIn.model_validate(raw, context=context).to_touch_spec())
            positions.append(index)
        except ValidationError as exc:
            errors = [
                {"loc": ["items", index, *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
            answers[index] = _item(index, "error", errors=errors)
    for index, result in zip(positions, touches_ingest(specs=specs, actor=actor), strict=True):
        answers[index] = _result(index, result)
    items = [a for a in answers if a is not None]
    counts = dict.fromkeys(("created", "duplicate", "error"), 0)
    for answer in items:
        counts[answer["status"]] += 1
    return {**counts, "items": items}


def _item(
    index: int,
    status: str,
    *,
    touch_id: int | None = None,
    lead_id: int | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "index": index,
        "status": status,
        "touch_id": touch_id,
        "lead_id": lead_id,
        "errors": errors or [],
    }


def _result(index: int, result: IngestResult) -> dict[str, Any]:
    errors = [
        {"loc": ["items", index, *e.loc], "msg": e.msg, "type": e.type} for e in result.errors
    ]
    return _item(
        index, result.status, touch_id=result.touch_id, lead_id=result.lead_id, errors=errors
    )

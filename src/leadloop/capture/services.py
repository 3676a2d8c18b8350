"""Use cases of capture: recording touches.

Touches are append-only and idempotent: each carries the sender's external id or, without
one, a hash of its content, and the unique ``external_id`` makes a retry or a re-run import
find the touch it already recorded instead of writing a second one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from leadloop.capture.attribution import Attribution
from leadloop.capture.models import Campaign, Touch
from leadloop.common.errors import LeadloopError
from leadloop.content.models import ContentOffer
from leadloop.leads.models import Lead
from leadloop.leads.services import lead_source_clear, lead_source_set


class TouchInvalid(LeadloopError):
    code = "touch_invalid"


@dataclass(frozen=True)
class TouchInput:
    """A touch as a caller knows it; `attribution` carries source, medium, UTM and URLs."""

    kind: str
    occurred_at: datetime
    attribution: Attribution = field(default_factory=Attribution)
    channel: str = ""  # overrides the attribution's channel when set
    campaign: Campaign | None = None  # else found by the attribution's utm_campaign
    content_offer: ContentOffer | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    external_id: str = ""


@dataclass(frozen=True)
class TouchRecorded:
    touch: Touch
    created: bool  # False: this touch was recorded before (a retry or a repeat)


def touch_external_id(*, lead_id: int, data: TouchInput) -> str:
    """The caller's external id, or a hash of what makes the touch this touch."""
    if data.external_id:
        return data.external_id.strip()[:200]
    a = data.attribution
    parts = (
        lead_id,
        data.kind,
        data.occurred_at.isoformat(),
        a.source,
        a.medium,
        a.campaign,
        a.content,
        a.landing_page,
        data.content_offer.pk if data.content_offer else "",
    )
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return f"h:{digest[:40]}"


def _aware(data: TouchInput) -> None:
    if data.occurred_at.tzinfo is None:
        raise TouchInvalid("occurred_at needs a time zone (an aware time).", loc=("occurred_at",))


def touch_prepare(*, data: TouchInput) -> Touch:
    """The touch `data` describes, unsaved and without its lead: checked, its campaign found
    (the given one, else the one whose slug is the utm_campaign: one query), its channel
    derived. Raises TouchInvalid."""
    _aware(data)
    a = data.attribution
    campaign = data.campaign
    if campaign is None and a.campaign:
        campaign = Campaign.objects.filter(slug=a.campaign.lower()).first()
    return Touch(
        kind=data.kind,
        channel=data.channel or (campaign.channel if campaign and not a.source else a.channel),
        source=a.source,
        medium=a.medium,
        utm_campaign=a.campaign,
        utm_term=a.term,
        utm_content=a.content,
        referrer=a.referrer,
        landing_page=a.landing_page,
        campaign=campaign,
        content_offer=data.content_offer,
        occurred_at=data.occurred_at,
        properties=data.properties,
    )


def touch_first_source(touch: Touch) -> tuple[str, str]:
    """The first-touch source a lead gets from `touch`: its channel, and the campaign's name
    (else the UTM source) as the detail."""
    return touch.channel, touch.campaign.name if touch.campaign else touch.source


def touch_record(
    *, lead: Lead, data: TouchInput, prepared: Touch | None = None, lead_new: bool = False
) -> TouchRecorded:
    """Record one touch of `lead`, once; set the lead's first-touch source when it has none.

    `prepared` is ``touch_prepare(data=data)`` when the caller has made it already. `lead_new`
    says `lead` was inserted in this transaction, with the first-touch source of `prepared`
    (``touch_first_source``) in its row: a new lead has no touches, so the touch is inserted
    without looking it up first; should a caller's external id be taken already, the touch
    found is answered as before and the lead's source is cleared again.
    """
    _aware(data)
    external_id = touch_external_id(lead_id=lead.pk, data=data)
    if not lead_new:
        existing = Touch.objects.filter(external_id=external_id).first()
        if existing is not None:
            return TouchRecorded(touch=existing, created=False)
    touch = prepared if prepared is not None else touch_prepare(data=data)
    touch.lead, touch.external_id = lead, external_id
    try:
        with transaction.atomic():
            touch.save(force_insert=True)
    except IntegrityError:
        # Recorded before: by another request between the look-up and the insert, or, for a
        # new lead, under a caller's external id that another lead's touch carries.
        if lead_new and lead.source:
            lead_source_clear(lead=lead)
        return TouchRecorded(touch=Touch.objects.get(external_id=external_id), created=False)
    source, detail = touch_first_source(touch)
    lead_source_set(lead=lead, source=source, detail=detail)
    return TouchRecorded(touch=touch, created=True)

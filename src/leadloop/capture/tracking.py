"""Tracked links and the open pixel of e-mails: signed tokens, and the touches they record.

A token is ``django.core.signing`` over ``{"l": lead id, "u": destination, "c": campaign slug,
"o": content offer id, "i": link id, "k": touch kind}`` with its own salt: it cannot be forged
or altered, and it needs no table. ``tracking_link_url`` makes ``/t/<token>`` (a click:
record, then redirect) and ``tracking_pixel_url`` makes ``/o/<token>.gif`` (an open).

Mail scanners and link checkers fetch links before people do, often several times:

- A touch's external id is ``t:<link id>:<lead id>:<10-minute bucket>`` (``o:`` for opens),
  so repeats within a bucket find the touch already recorded instead of adding one.
- A request whose User-Agent is a known bot (``crawlerdetect``) is redirected (or given the
  GIF) and records nothing: a scanner's prefetch is not the lead's interest, and recording it
  with a flag would still feed engagement scores unless every reader filtered it out.
- A bad or altered token records nothing: the click view answers 404, the pixel the GIF.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

from crawlerdetect import CrawlerDetect
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from leadloop.capture.attribution import Attribution, attribution_parse
from leadloop.capture.models import Campaign, Channel, Touch, TouchKind
from leadloop.capture.services import TouchInput, touch_record
from leadloop.common.errors import LeadloopError, NotFound
from leadloop.content.models import ContentOffer
from leadloop.leads.models import Lead

SALT: Final = "leadloop.capture.tracking"
REPEAT_WINDOW_SECONDS: Final = 600
_http_url = URLValidator(schemes=["http", "https"])
# What a click may record: an e-mail click by default; a collateral link may say otherwise.
LINK_KINDS: Final = frozenset(
    {TouchKind.EMAIL_CLICK, TouchKind.CONTENT_DOWNLOAD, TouchKind.PAGE_VISIT, TouchKind.SOCIAL}
)


class TrackingTokenInvalid(NotFound):
    code = "tracking_token_invalid"


class TrackingLinkInvalid(LeadloopError):
    code = "tracking_link_invalid"


@dataclass(frozen=True)
class TrackedLink:
    lead_id: int
    url: str  # "" for the open pixel
    link_id: str
    kind: str
    campaign_slug: str = ""
    content_offer_id: int | None = None


@dataclass(frozen=True)
class Tracked:
    link: TrackedLink
    touch: Touch | None  # None: a bot, an unknown lead, or nothing to record
    created: bool = False


def _token(payload: dict[str, Any]) -> str:
    return signing.dumps({k: v for k, v in payload.items() if v not in ("", None)}, salt=SALT)


def tracking_token(
    *,
    lead_id: int,
    url: str = "",
    link_id: str = "",
    kind: str = TouchKind.EMAIL_CLICK,
    campaign_slug: str = "",
    content_offer_id: int | None = None,
) -> str:
    """A signed token for one lead and one destination. Raises TrackingLinkInvalid."""
    if url:
        try:
            _http_url(url)
        except ValidationError:
            raise TrackingLinkInvalid(f"{url!r} is not an http(s) URL.", loc=("url",)) from None
    if kind not in LINK_KINDS | {TouchKind.EMAIL_OPEN}:
        raise TrackingLinkInvalid(f"A tracked link cannot record {kind!r}.", loc=("kind",))
    return _token(
        {
            "l": lead_id,
            "u": url,
            "i": link_id or secrets.token_hex(6),
            "k": kind,
            "c": campaign_slug,
            "o": content_offer_id,
        }
    )


def tracking_link_url(
    *,
    lead: Lead,
    url: str,
    link_id: str = "",
    kind: str = TouchKind.EMAIL_CLICK,
    campaign_slug: str = "",
    content_offer: ContentOffer | None = None,
) -> str:
    """The absolute ``/t/<token>`` URL that records a click of `lead` and redirects to `url`.

    `link_id` names the link (e.g. ``nurture:3:step-2``); repeats of one link by one lead
    within 10 minutes are one touch. Raises TrackingLinkInvalid.
    """
    token = tracking_token(
        lead_id=lead.pk,
        url=url,
        link_id=link_id,
        kind=kind,
        campaign_slug=campaign_slug,
        content_offer_id=content_offer.pk if content_offer else None,
    )
    return f"{settings.LEADLOOP_BASE_URL.rstrip('/')}/t/{token}"


def tracking_pixel_url(*, lead: Lead, message_id: str, campaign_slug: str = "") -> str:
    """The absolute ``/o/<token>.gif`` URL of the open pixel of one e-mail to `lead`."""
    token = tracking_token(
        lead_id=lead.pk, link_id=message_id, kind=TouchKind.EMAIL_OPEN, campaign_slug=campaign_slug
    )
    return f"{settings.LEADLOOP_BASE_URL.rstrip('/')}/o/{token}.gif"


def tracking_parse(token: str) -> TrackedLink:
    """The link a token carries; raises TrackingTokenInvalid for a bad or altered token."""
    try:
        data = signing.loads(token, salt=SALT)
        link = TrackedLink(
            lead_id=int(data["l"]),
            url=str(data.get("u", "")),
            link_id=str(data["i"]),
            kind=str(data.get("k", TouchKind.EMAIL_CLICK)),
            campaign_slug=str(data.get("c", "")),
            content_offer_id=int(data["o"]) if data.get("o") is not None else None,
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        raise TrackingTokenInvalid("This link is not valid: it may be cut short.") from None
    if link.url:
        try:
            _http_url(link.url)
        except ValidationError:
            raise TrackingTokenInvalid("This link is not valid.") from None
    return link


@lru_cache(maxsize=1)
def _crawler_detect() -> CrawlerDetect:
    return CrawlerDetect()


@lru_cache(maxsize=2048)
def is_bot(user_agent: str) -> bool:
    """Whether a User-Agent is a known crawler, link checker or mail scanner."""
    return bool(user_agent.strip()) and _crawler_detect().is_crawler(user_agent)


def _attribution(link: TrackedLink) -> Attribution:
    if link.url:
        parsed = attribution_parse(landing_page=link.url)
        if parsed.source != "(direct)":
            return parsed
    return Attribution(
        source="leadloop",
        medium="email",
        campaign=link.campaign_slug,
        channel=Channel.EMAIL,
        landing_page=link.url,
    )


def tracking_record(*, token: str, user_agent: str = "", at: datetime | None = None) -> Tracked:
    """Record the click or open a token stands for, once per link, lead and 10 minutes.

    Raises TrackingTokenInvalid. Records nothing for a bot or a lead that no longer exists.
    """
    link = tracking_parse(token)
    if is_bot(user_agent):
        return Tracked(link=link, touch=None)
    lead = Lead.objects.filter(pk=link.lead_id).first()
    if lead is None:
        return Tracked(link=link, touch=None)
    at = at or timezone.now()
    bucket = int(at.timestamp()) // REPEAT_WINDOW_SECONDS
    prefix = "o" if link.kind == TouchKind.EMAIL_OPEN else "t"
    offer = (
        ContentOffer.objects.filter(pk=link.content_offer_id).first()
        if link.content_offer_id
        else None
    )
    campaign = (
        Campaign.objects.filter(slug=link.campaign_slug).first() if link.campaign_slug else None
    )
    recorded = touch_record(
        lead=lead,
        data=TouchInput(
            kind=link.kind,
            occurred_at=at,
            attribution=_attribution(link),
            channel=Channel.EMAIL
            if link.kind in (TouchKind.EMAIL_CLICK, TouchKind.EMAIL_OPEN)
            else "",
            campaign=campaign,
            content_offer=offer,
            properties={"link": link.link_id, **({"url": link.url} if link.url else {})},
            external_id=f"{prefix}:{link.link_id}:{lead.pk}:{bucket}",
        ),
    )
    return Tracked(link=link, touch=recorded.touch, created=recorded.created)

"""What a touch to ingest is: its checked time, its attribution (UTM, referrer, landing page)
and the references it names (campaign, content offer), resolved once per batch.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from django.utils import timezone

from leadloop.capture.attribution import Attribution, attribution_parse, channel_for
from leadloop.capture.models import Campaign
from leadloop.capture.services import TouchInput, TouchInvalid
from leadloop.common.errors import LeadloopError, NotFound
from leadloop.content.models import ContentOffer

BATCH_MAX: Final = 1000


# A touch may be stamped a little ahead of the server's clock: the sender's clock drifts.
CLOCK_SKEW: Final = timedelta(minutes=5)
_SOURCE_MAX, _MEDIUM_MAX = 100, 100  # Touch.source, Touch.medium


class BatchTooLarge(LeadloopError):
    code = "batch_too_large"
    status = 422


class IngestConflict(LeadloopError):
    code = "conflict"


def occurred_at_check(value: datetime, *, now: datetime | None = None) -> None:
    """Raise TouchInvalid (loc ``occurred_at``) unless `value` is aware and not in the future.

    A batch checks 1,000 times: pass its `now` rather than reading the clock for each.
    """
    if value.utcoffset() is None:  # timezone.is_naive, without its call
        raise TouchInvalid(
            f"occurred_at {value.isoformat()!r} has no time zone: send an aware ISO 8601 time "
            "such as 2026-05-04T09:30:00Z or 2026-05-04T11:30:00+02:00.",
            loc=("occurred_at",),
        )
    limit = (now or timezone.now()) + CLOCK_SKEW
    if value > limit:
        raise TouchInvalid(
            f"occurred_at {value.isoformat()!r} is in the future (the server's time is "
            f"{(limit - CLOCK_SKEW).isoformat()}; up to {CLOCK_SKEW.seconds // 60} minutes "
            "of clock skew are accepted).",
            loc=("occurred_at",),
        )


@functools.lru_cache(maxsize=4096)
def attribution_parsed(landing_page: str, referrer: str) -> Attribution:
    # A batch repeats the same campaign links; Attribution is frozen, so sharing it is safe.
    return attribution_parse(landing_page=landing_page, referrer=referrer)


def attribution_resolve(
    *,
    landing_page: str = "",
    referrer: str = "",
    source: str = "",
    medium: str = "",
    campaign: str = "",
    term: str = "",
    content: str = "",
) -> Attribution:
    """Attribution from the landing page and referrer, with explicitly sent values winning.

    An explicit source or medium replaces the parsed pair (and decides the channel); explicit
    UTM campaign, term and content replace the parsed ones one by one.
    """
    parsed = attribution_parsed(landing_page, referrer)
    if not (source or medium or campaign or term or content):
        return parsed  # nothing explicit, the usual case: the shared parsed value as it is
    source, medium = source.strip(), medium.strip()
    if source or medium:
        pair = (source, medium)
        channel = channel_for(source=source, medium=medium)
    else:
        pair = (parsed.source, parsed.medium)
        channel = parsed.channel
    return Attribution(
        source=pair[0][:_SOURCE_MAX],
        medium=pair[1][:_MEDIUM_MAX],
        campaign=campaign.strip()[:200] or parsed.campaign,
        term=term.strip()[:200] or parsed.term,
        content=content.strip()[:200] or parsed.content,
        channel=channel,
        referrer=parsed.referrer,
        landing_page=parsed.landing_page,
    )


@dataclass(frozen=True)
class TouchSpec:
    """One touch as a client sends it: the lead's identity, the touch, references by slug."""

    kind: str
    occurred_at: datetime
    attribution: Attribution = field(default_factory=Attribution)
    lead_id: int | None = None
    email: str = ""
    lead_external_id: str = ""
    channel: str = ""
    campaign: str = ""  # a campaign's slug; else found by utm_campaign
    content_offer: str = ""  # a content offer's slug
    properties: dict[str, Any] = field(default_factory=dict)
    external_id: str = ""  # the touch's


@dataclass(frozen=True)
class Refs:
    campaigns: dict[str, Campaign]
    offers: dict[str, ContentOffer]

    @classmethod
    def load(cls, specs: Iterable[TouchSpec]) -> Refs:
        specs = list(specs)
        slugs = {s.campaign.strip().lower() for s in specs if s.campaign.strip()}
        slugs |= {s.attribution.campaign.lower() for s in specs if s.attribution.campaign}
        offers = {s.content_offer.strip() for s in specs if s.content_offer.strip()}
        return cls(
            campaigns={c.slug: c for c in Campaign.objects.filter(slug__in=slugs)} if slugs else {},
            offers={o.slug: o for o in ContentOffer.objects.filter(slug__in=offers)}
            if offers
            else {},
        )

    def touch_input(self, spec: TouchSpec) -> TouchInput:
        """The TouchInput of `spec`; raises NotFound naming an unknown campaign or offer."""
        campaign = offer = None
        if spec.campaign.strip():
            campaign = self.campaigns.get(spec.campaign.strip().lower())
            if campaign is None:
                raise NotFound(f"No campaign with the slug {spec.campaign!r}.", loc=("campaign",))
        if spec.content_offer.strip():
            offer = self.offers.get(spec.content_offer.strip())
            if offer is None:
                raise NotFound(
                    f"No content offer with the slug {spec.content_offer!r}.",
                    loc=("content_offer",),
                )
        return TouchInput(
            kind=spec.kind,
            occurred_at=spec.occurred_at,
            attribution=spec.attribution,
            channel=spec.channel,
            campaign=campaign,
            content_offer=offer,
            properties=spec.properties,
            external_id=spec.external_id,
        )

    def campaign_of(self, data: TouchInput) -> Campaign | None:
        """The campaign ``touch_record`` would link: the given one, else by utm_campaign."""
        if data.campaign is not None or not data.attribution.campaign:
            return data.campaign
        return self.campaigns.get(data.attribution.campaign.lower())

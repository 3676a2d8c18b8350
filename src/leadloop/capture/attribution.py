"""Where a touch came from: UTM parameters, referrer and landing page → source, medium, channel.

UTM parameters win; without them the referrer decides (a search engine is organic search, a
social network is organic social, any other site is a referral), and with neither the visit is
direct. Channel rules follow the default channel groupings analytics tools use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

from leadloop.capture.models import Channel

SEARCH_ENGINES: Final = frozenset(
    {
        "google",
        "bing",
        "yahoo",
        "duckduckgo",
        "baidu",
        "yandex",
        "ecosia",
        "qwant",
        "naver",
        "startpage",
    }
)
SOCIAL_NETWORKS: Final = frozenset(
    {
        "linkedin",
        "lnkd",
        "facebook",
        "fb",
        "instagram",
        "twitter",
        "t",
        "x",
        "youtube",
        "reddit",
        "xing",
        "tiktok",
        "pinterest",
        "threads",
        "mastodon",
        "bsky",
    }
)
_PAID_MEDIA: Final = frozenset(
    {"cpc", "ppc", "paid", "paidsearch", "paid_search", "sem", "cpm", "cpv"}
)
_PAID_SOCIAL_MEDIA: Final = frozenset({"paid_social", "paidsocial", "social_paid", "paid-social"})
_SOCIAL_MEDIA: Final = frozenset(
    {"social", "social-network", "social_network", "sm", "organic_social"}
)
_EMAIL_MEDIA: Final = frozenset({"email", "e-mail", "e_mail", "newsletter"})
_DISPLAY_MEDIA: Final = frozenset({"display", "banner", "cpm", "programmatic"})
_REFERRAL_MEDIA: Final = frozenset({"referral", "ref"})
_PARTNER_MEDIA: Final = frozenset({"partner", "affiliate", "affiliates"})
_EVENT_MEDIA: Final = frozenset({"event", "events", "tradeshow", "trade_show", "conference"})
_WEBINAR_MEDIA: Final = frozenset({"webinar"})


@dataclass(frozen=True)
class Attribution:
    source: str = ""
    medium: str = ""
    campaign: str = ""
    term: str = ""
    content: str = ""
    channel: str = Channel.DIRECT
    referrer: str = ""
    landing_page: str = ""


def _site(host: str) -> str:
    """The registrable name of a host, roughly: ``www.google.co.uk`` → ``google``."""
    parts = [p for p in host.lower().split(".") if p and p != "www"]
    if (
        len(parts) >= 3
        and len(parts[-1]) == 2
        and parts[-2] in {"co", "com", "ac", "org", "gov", "net"}
    ):
        parts = parts[:-2]
    elif len(parts) >= 2:
        parts = parts[:-1]
    return parts[-1] if parts else ""


def _first(query: dict[str, list[str]], name: str, limit: int = 200) -> str:
    values = query.get(name) or [""]
    return values[0].strip()[:limit]


def channel_for(*, source: str, medium: str) -> str:
    """The channel a (source, medium) pair belongs to."""
    medium, site = medium.lower(), _site(source) if "." in source else source.lower()
    if medium in _PAID_SOCIAL_MEDIA or (medium in _PAID_MEDIA and site in SOCIAL_NETWORKS):
        return Channel.PAID_SOCIAL
    if medium in _PAID_MEDIA:
        return Channel.PAID_SEARCH
    if medium in _DISPLAY_MEDIA:
        return Channel.DISPLAY
    if medium in _EMAIL_MEDIA:
        return Channel.EMAIL
    if medium in _SOCIAL_MEDIA or (medium == "" and site in SOCIAL_NETWORKS):
        return Channel.SOCIAL
    if medium == "organic" or (medium == "" and site in SEARCH_ENGINES):
        return Channel.ORGANIC_SEARCH
    if medium in _PARTNER_MEDIA:
        return Channel.PARTNER
    if medium in _EVENT_MEDIA:
        return Channel.EVENT
    if medium in _WEBINAR_MEDIA:
        return Channel.WEBINAR
    if medium in _REFERRAL_MEDIA or (medium == "" and site):
        return Channel.REFERRAL
    if not source and medium in ("", "(none)", "none"):
        return Channel.DIRECT
    return Channel.OTHER


def attribution_parse(
    *, landing_page: str = "", referrer: str = "", own_hosts: tuple[str, ...] = ()
) -> Attribution:
    """Source, medium, campaign, term, content and channel of a visit.

    `own_hosts` are the site's own host names: a referrer from them is navigation, not a source.
    """
    query = parse_qs(urlsplit(landing_page).query) if landing_page else {}
    # Touch.source and Touch.medium hold 100 characters; campaign, term and content 200.
    source, medium = _first(query, "utm_source", 100), _first(query, "utm_medium", 100)
    campaign, term, content = (
        _first(query, n) for n in ("utm_campaign", "utm_term", "utm_content")
    )
    if not source and ("gclid" in query or "msclkid" in query):
        source, medium = ("google" if "gclid" in query else "bing"), "cpc"
    elif not source and "fbclid" in query and not medium:
        source, medium = "facebook", "social"
    ref_host = urlsplit(referrer).hostname or "" if referrer else ""
    if ref_host and ref_host.lower().removeprefix("www.") in {
        h.lower().removeprefix("www.") for h in own_hosts
    }:
        ref_host = ""
    if not source and ref_host:
        site = _site(ref_host)
        source = site or ref_host
        medium = (
            "organic"
            if site in SEARCH_ENGINES
            else ("social" if site in SOCIAL_NETWORKS else "referral")
        )
    if not source and not medium:
        source, medium = "(direct)", "(none)"
    channel = Channel.DIRECT if source == "(direct)" else channel_for(source=source, medium=medium)
    return Attribution(
        source=source[:100],
        medium=medium[:100],
        campaign=campaign,
        term=term,
        content=content,
        channel=channel,
        referrer=referrer[:2000],
        landing_page=landing_page[:2000],
    )

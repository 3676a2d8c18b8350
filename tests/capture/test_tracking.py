"""Tracked links and the open pixel: one touch per link, lead and window; bots and bad tokens
record nothing and never crash."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client

from leadloop.capture.models import Channel, Touch, TouchKind
from leadloop.capture.tracking import (
    TrackingLinkInvalid,
    TrackingTokenInvalid,
    tracking_link_url,
    tracking_parse,
    tracking_pixel_url,
)
from tests.capture.factories import CampaignFactory
from tests.content.factories import ContentOfferFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 4, 9, 31, tzinfo=dt.UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
DEST = "https://www.acme.test/guide"


def _path(url: str) -> str:
    return urlsplit(url).path


@pytest.fixture
def browser() -> Client:
    return Client(HTTP_USER_AGENT=BROWSER)


def test_a_click_records_an_email_click_and_redirects(browser, settings):
    settings.LEADLOOP_BASE_URL = "https://leadloop.acme.test"
    campaign = CampaignFactory(slug="nurture-q2", channel=Channel.EMAIL)
    offer = ContentOfferFactory(slug="crm-guide")
    lead = LeadFactory()
    url = tracking_link_url(
        lead=lead, url=DEST, link_id="nurture:1:step-2", campaign_slug="nurture-q2",
        content_offer=offer,
    )  # fmt: skip

    with time_machine.travel(AT, tick=False):
        response = browser.get(_path(url))

    assert url.startswith("https://leadloop.acme.test/t/")
    assert (response.status_code, response["Location"]) == (302, DEST)
    assert "no-cache" in response["Cache-Control"]
    touch = Touch.objects.get()
    assert (touch.lead, touch.kind, touch.channel, touch.campaign, touch.content_offer) == (
        lead,
        TouchKind.EMAIL_CLICK,
        Channel.EMAIL,
        campaign,
        offer,
    )
    assert touch.properties == {"link": "nurture:1:step-2", "url": DEST}
    assert touch.external_id == f"t:nurture:1:step-2:{lead.pk}:{int(AT.timestamp()) // 600}"


def test_repeats_within_ten_minutes_are_one_touch_and_later_ones_another(browser):
    lead = LeadFactory()
    path = _path(tracking_link_url(lead=lead, url=DEST, link_id="l1"))

    with time_machine.travel(AT, tick=False):
        first = browser.get(path)
        browser.get(path)
    with time_machine.travel(AT + dt.timedelta(minutes=5), tick=False):
        browser.get(path)
    with time_machine.travel(AT + dt.timedelta(minutes=30), tick=False):
        browser.get(path)

    assert first.status_code == 302
    assert Touch.objects.count() == 2


def test_the_open_pixel_records_an_open_and_answers_a_gif_that_is_not_cached(browser):
    lead = LeadFactory()

    response = browser.get(_path(tracking_pixel_url(lead=lead, message_id="msg-7")))

    assert (response.status_code, response["Content-Type"]) == (200, "image/gif")
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"]
    touch = Touch.objects.get()
    assert (touch.kind, touch.channel, touch.properties) == (
        TouchKind.EMAIL_OPEN,
        Channel.EMAIL,
        {"link": "msg-7"},
    )


def test_a_tampered_token_is_a_404_page_and_records_nothing(browser):
    lead = LeadFactory()
    path = _path(tracking_link_url(lead=lead, url=DEST, link_id="l1"))
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")

    click = browser.get(tampered)
    cut = browser.get(path[:20])
    pixel = browser.get("/o/not-a-token.gif")

    assert (click.status_code, cut.status_code) == (404, 404)
    assert "This link is not valid" in click.content.decode()
    assert (pixel.status_code, pixel["Content-Type"]) == (200, "image/gif")
    assert Touch.objects.count() == 0


def test_a_mail_scanner_is_redirected_but_records_nothing():
    lead = LeadFactory()
    scanner = Client(HTTP_USER_AGENT="Mozilla/5.0 (compatible; Barracuda Sentinel (EE))")

    response = scanner.get(_path(tracking_link_url(lead=lead, url=DEST)))

    assert (response.status_code, response["Location"]) == (302, DEST)
    assert Touch.objects.count() == 0


def test_a_link_to_a_deleted_lead_still_redirects(browser):
    lead = LeadFactory()
    path = _path(tracking_link_url(lead=lead, url=DEST))
    lead.delete()

    response = browser.get(path)

    assert (response.status_code, response["Location"]) == (302, DEST)
    assert Touch.objects.count() == 0


def test_a_link_needs_an_http_destination():
    with pytest.raises(TrackingLinkInvalid, match="'javascript:alert' is not an http"):
        tracking_link_url(lead=LeadFactory(), url="javascript:alert")


def test_a_token_signed_for_something_else_is_refused():
    from django.core import signing

    foreign = signing.dumps({"l": 1, "u": DEST, "i": "x"})  # default salt: a session, a reset…

    with pytest.raises(TrackingTokenInvalid):
        tracking_parse(foreign)

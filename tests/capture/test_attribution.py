from __future__ import annotations

import pytest

from leadloop.capture.attribution import attribution_parse
from leadloop.capture.models import Channel


@pytest.mark.parametrize(
    ("landing_page", "referrer", "expected"),
    [
        (
            "https://acme.test/?utm_source=google&utm_medium=cpc&utm_campaign=q4-search&utm_term=crm",
            "",
            ("google", "cpc", "q4-search", "crm", Channel.PAID_SEARCH),
        ),
        (
            "https://acme.test/?utm_source=linkedin&utm_medium=cpc",
            "",
            ("linkedin", "cpc", "", "", Channel.PAID_SOCIAL),
        ),
        (
            "https://acme.test/?utm_source=newsletter&utm_medium=email&utm_content=hero",
            "",
            ("newsletter", "email", "", "", Channel.EMAIL),
        ),
        (
            "https://acme.test/pricing",
            "https://www.google.co.uk/search?q=crm",
            ("google", "organic", "", "", Channel.ORGANIC_SEARCH),
        ),
        (
            "https://acme.test/pricing",
            "https://www.linkedin.com/feed/",
            ("linkedin", "social", "", "", Channel.SOCIAL),
        ),
        (
            "https://acme.test/pricing",
            "https://blog.partner.example/post",
            ("partner", "referral", "", "", Channel.REFERRAL),
        ),
        ("https://acme.test/pricing", "", ("(direct)", "(none)", "", "", Channel.DIRECT)),
        ("https://acme.test/?gclid=abc", "", ("google", "cpc", "", "", Channel.PAID_SEARCH)),
    ],
)
def test_utm_referrer_and_click_ids_give_source_medium_and_channel(
    landing_page, referrer, expected
):
    a = attribution_parse(landing_page=landing_page, referrer=referrer)

    assert (a.source, a.medium, a.campaign, a.term, a.channel) == expected


def test_a_referrer_from_the_own_site_is_navigation_not_a_source():
    a = attribution_parse(
        landing_page="https://www.acme.test/demo",
        referrer="https://acme.test/pricing",
        own_hosts=("acme.test",),
    )

    assert (a.source, a.channel) == ("(direct)", Channel.DIRECT)


def test_source_and_medium_are_cut_to_the_touch_columns():
    a = attribution_parse(
        landing_page=f"https://acme.test/?utm_source={'s' * 150}&utm_medium={'m' * 150}"
    )

    assert (len(a.source), len(a.medium)) == (100, 100)

"""Submitting a form: the lead, its consent and a touch with the page's UTM, once.

Each submission goes the way a visitor's does: checked and stored (``submission_receive``),
then captured by the worker (``submissions_capture``)."""

from __future__ import annotations

import datetime as dt

import pytest

from leadloop.capture.models import Channel, Form, FormSubmission, Touch, TouchKind
from leadloop.leads.models import Lead, Stage
from leadloop.loop.forms import FormSubmitted, SubmissionInvalid
from leadloop.loop.intake import submission_receive, submissions_capture
from tests.capture.factories import CampaignFactory
from tests.capture.form_factories import FormFactory
from tests.content.factories import ContentOfferFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)
PAGE = (
    "https://www.acme.test/pricing?utm_source=linkedin&utm_medium=paid_social&utm_campaign=q2-crm"
)


def post(
    *,
    form: Form,
    values: dict[str, str],
    page_url: str = "",
    referrer: str = "",
    at: dt.datetime | None = None,
) -> FormSubmitted:
    """Post `values` as a visitor would, then let the worker capture what was stored."""
    done = submission_receive(form=form, values=values, page_url=page_url, referrer=referrer, at=at)
    assert submissions_capture().failed == 0
    assert FormSubmission.objects.count() == 0
    return done


def test_a_submission_creates_the_lead_with_consent_and_a_touch_with_the_pages_utm():
    campaign = CampaignFactory(slug="q2-crm", channel=Channel.PAID_SOCIAL)
    form = FormFactory(slug="demo", consent_text="ACME may e-mail me.", consent_required=True)

    done = post(
        form=form,
        values={
            "email": " Ada@Analytical.example ",
            "first_name": "Ada",
            "company": "Analytical Engines",
            "team_size": "11-50",
            "message": "Call me",
            "consent": "on",
        },
        page_url=PAGE,
        referrer="https://www.linkedin.com/feed/",
        at=AT,
    )

    lead = Lead.objects.get()
    assert done.message == "Thanks, we will be in touch within a day."
    assert (lead.email, lead.first_name, lead.company.name, lead.stage) == (
        "ada@analytical.example",
        "Ada",
        "Analytical Engines",
        Stage.LEAD,
    )
    assert lead.attributes == {"team_size": "11-50"}
    assert (lead.consent_given, lead.consent_text, lead.consent_at) == (
        True,
        "ACME may e-mail me.",
        AT,
    )
    touch = Touch.objects.get()
    assert (touch.kind, touch.source, touch.medium, touch.utm_campaign, touch.channel) == (
        TouchKind.FORM_FILL,
        "linkedin",
        "paid_social",
        "q2-crm",
        Channel.PAID_SOCIAL,
    )
    assert (touch.campaign, touch.landing_page, touch.occurred_at) == (campaign, PAGE, AT)
    assert touch.properties == {
        "form": "demo",
        "form_id": form.pk,
        "fields": {"team_size": "11-50", "message": "Call me"},
        "consent": True,
    }
    assert touch.external_id.startswith(f"f:{form.pk}:")


def test_a_second_submission_updates_the_lead_and_adds_a_touch():
    form = FormFactory()
    post(form=form, values={"email": "ada@a.example", "first_name": "Ada"}, at=AT)

    again = post(
        form=form,
        values={"email": "ADA@a.example", "first_name": "Augusta", "company": "Engines"},
        page_url="https://www.acme.test/?utm_source=newsletter&utm_medium=email",
        at=AT + dt.timedelta(days=2),
    )

    lead = Lead.objects.get()  # the same lead, updated
    assert again.redirect == ""
    assert lead.first_name == "Augusta"
    assert list(lead.touches.order_by("occurred_at").values_list("source", flat=True)) == [
        "(direct)",
        "newsletter",
    ]


def test_the_same_values_posted_twice_within_a_minute_are_one_touch():
    form = FormFactory()
    values = {"email": "ada@a.example", "first_name": "Ada"}

    post(form=form, values=values, at=AT)
    first = Touch.objects.get()
    post(form=form, values=values, at=AT + dt.timedelta(seconds=20))

    assert list(Touch.objects.all()) == [first]
    assert Touch.objects.get().occurred_at == AT
    post(form=form, values=values, at=AT + dt.timedelta(minutes=2))
    assert Touch.objects.count() == 2  # a minute later it is a new submission


def test_every_missing_or_wrong_field_is_named():
    form = FormFactory(consent_text="ACME may e-mail me.", consent_required=True)

    with pytest.raises(SubmissionInvalid) as excinfo:
        post(form=form, values={"email": "ada@", "team_size": "9000"}, at=AT)

    assert excinfo.value.errors == {
        "email": "'ada@' is not an e-mail address.",
        "first_name": "Please fill in “First name”.",
        "team_size": "Choose one of the options for “Team size”.",
        "consent": "Please give your consent to continue.",
    }
    assert excinfo.value.loc == ("fields", "email")
    assert Lead.objects.count() == 0


def test_without_required_consent_an_unticked_box_records_no_consent():
    form = FormFactory(consent_text="Send me news.", consent_required=False)

    post(form=form, values={"email": "ada@a.example", "first_name": "Ada"}, at=AT)

    lead = Lead.objects.get()
    assert (lead.consent_given, lead.consent_text) == (False, "")


def test_a_filled_honeypot_answers_as_usual_and_records_nothing():
    form = FormFactory(redirect_url="https://www.acme.test/thanks")

    done = post(
        form=form,
        values={"email": "bot@spam.example", "first_name": "Bot", "website": "http://spam"},
        at=AT,
    )

    assert done.redirect == "https://www.acme.test/thanks"
    assert (Lead.objects.count(), Touch.objects.count()) == (0, 0)


def test_a_form_gating_an_offer_records_a_content_download():
    offer = ContentOfferFactory(slug="crm-guide")
    form = FormFactory(content_offer=offer)

    post(form=form, values={"email": "ada@a.example", "first_name": "Ada"}, at=AT)

    touch = Touch.objects.get()
    assert (touch.kind, touch.content_offer) == (TouchKind.CONTENT_DOWNLOAD, offer)


def test_numbers_checkboxes_and_country_codes_are_cleaned():
    form = FormFactory(
        fields=[
            {"name": "email", "label": "E-mail", "type": "email", "required": True,
             "maps_to": "email", "choices": []},
            {"name": "seats", "label": "Seats", "type": "number", "required": True,
             "maps_to": "attributes.seats", "choices": []},
            {"name": "news", "label": "Newsletter", "type": "checkbox", "required": False,
             "maps_to": "attributes.newsletter", "choices": []},
            {"name": "country", "label": "Country", "type": "text", "required": False,
             "maps_to": "country", "choices": []},
        ]
    )  # fmt: skip

    with pytest.raises(SubmissionInvalid) as excinfo:
        post(form=form, values={"email": "a@a.example", "seats": "many", "country": "Germany"})
    post(form=form, values={"email": "a@a.example", "seats": "12", "news": "on", "country": "de"})

    assert excinfo.value.errors == {
        "seats": "“Seats” must be a number; 'many' is not one.",
        "country": "“Country”: use a two-letter country code such as DE, 'Germany' is not one.",
    }
    lead = Lead.objects.get()
    assert (lead.country, lead.attributes) == ("DE", {"seats": 12, "newsletter": True})

"""Building forms: every problem of a definition is named by its input; who may build them."""

from __future__ import annotations

import pytest

from leadloop.accounts.models import Role
from leadloop.capture.forms import (
    FormInvalid,
    FormSpec,
    form_create,
    form_origin_allowed,
    form_update,
    submission_throttle,
)
from leadloop.common.errors import PermissionDenied
from tests.accounts.factories import UserFactory
from tests.capture.factories import CampaignFactory
from tests.capture.form_factories import CONTACT_FIELDS, FormFactory
from tests.content.factories import ContentOfferFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mara():
    return UserFactory(username="mara", role=Role.MARKETING_OPS)


def _spec(**kwargs: object) -> FormSpec:
    values: dict[str, object] = {"name": "Demo request", "slug": "demo", "fields": CONTACT_FIELDS}
    values.update(kwargs)
    return FormSpec(**values)  # type: ignore[arg-type]


def _errors(excinfo: pytest.ExceptionInfo[FormInvalid]) -> dict[tuple[str | int, ...], str]:
    return dict(excinfo.value.errors)


def test_marketing_ops_creates_a_form_with_normalized_origins(mara):
    offer = ContentOfferFactory(slug="crm-guide")
    campaign = CampaignFactory(slug="q2")

    form = form_create(
        spec=_spec(
            allowed_origins=["https://WWW.Example.com/", "http://localhost:8080", ""],
            content_offer_id=offer.pk,
            campaign_id=campaign.pk,
        ),
        actor=mara,
    )

    form.refresh_from_db()
    assert form.allowed_origins == ["https://www.example.com", "http://localhost:8080"]
    assert (form.content_offer, form.campaign, form.created_by) == (offer, campaign, mara)
    assert [f["name"] for f in form.fields] == [f["name"] for f in CONTACT_FIELDS]


def test_a_form_without_an_email_field_is_refused_naming_the_fields():
    with pytest.raises(FormInvalid, match="needs an e-mail field mapped to “E-mail”") as excinfo:
        form_create(
            spec=_spec(fields=[f for f in CONTACT_FIELDS if f["maps_to"] != "email"]),
            actor=UserFactory(role=Role.ADMIN),
        )

    assert list(_errors(excinfo)) == [("fields",)]


def test_each_bad_field_is_named_by_its_row_and_column(mara):
    fields = [
        *CONTACT_FIELDS,
        {"label": "", "name": "Bad Name", "type": "colour", "maps_to": "salary"},
        {"label": "Size", "name": "first_name", "type": "select", "choices": []},
        {"label": "Again", "name": "again", "type": "text", "maps_to": "email"},
    ]

    with pytest.raises(FormInvalid) as excinfo:
        form_create(spec=_spec(fields=fields), actor=mara)

    errors = _errors(excinfo)
    assert errors[("fields", 5, "label")] == "Field 6: give it a label people will read."
    assert errors[("fields", 5, "name")].startswith("Field 6: name 'Bad Name' must start")
    assert errors[("fields", 5, "type")].startswith("Field 6: type 'colour' is not one of")
    assert errors[("fields", 5, "maps_to")] == (
        "Field 6: 'salary' is not a lead field or attributes.<key>."
    )
    assert errors[("fields", 6, "choices")] == (
        "Field 7: a drop-down needs at least one choice, one per line."
    )
    assert errors[("fields", 6, "name")] == (
        "Field 7: name 'first_name' is already used by field 2."
    )
    assert errors[("fields", 7, "maps_to")] == "Field 8: 'email' is already filled by field 1."


@pytest.mark.parametrize(
    "origin",
    ["www.example.com", "https://example.com/path", "ftp://example.com", "https://x.com:99999"],
)
def test_an_allowed_origin_must_be_scheme_host_and_port(mara, origin):
    with pytest.raises(FormInvalid, match="is not an origin: write scheme://host") as excinfo:
        form_create(spec=_spec(allowed_origins=["https://ok.example", origin]), actor=mara)

    assert list(_errors(excinfo)) == [("allowed_origins", 1)]


def test_slug_taken_redirect_url_and_consent_text_are_checked(mara):
    FormFactory(slug="demo")

    with pytest.raises(FormInvalid) as excinfo:
        form_create(
            spec=_spec(redirect_url="javascript:alert(1)", consent_required=True), actor=mara
        )

    assert _errors(excinfo) == {
        ("slug",): "Slug 'demo' is taken by another form; choose another.",
        ("redirect_url",): "Redirect URL 'javascript:alert(1)' is not an http(s) URL.",
        ("consent_text",): "Consent is required but has no text: write what people agree to.",
    }


def test_a_sales_rep_cannot_create_or_change_forms():
    form = FormFactory()
    rep = UserFactory(role=Role.SALES_REP)

    with pytest.raises(PermissionDenied, match="Only marketing ops and admins"):
        form_create(spec=_spec(), actor=rep)
    with pytest.raises(PermissionDenied):
        form_update(form_id=form.pk, spec=_spec(), actor=rep)


def test_updating_keeps_the_slug_of_the_form_itself(mara):
    form = FormFactory(slug="demo")

    updated = form_update(
        form_id=form.pk, spec=_spec(name="Demo v2", thank_you_message="Merci"), actor=mara
    )

    form.refresh_from_db()
    assert (updated.pk, form.name, form.slug, form.thank_you_message) == (
        form.pk,
        "Demo v2",
        "demo",
        "Merci",
    )


def test_only_listed_origins_may_post():
    form = FormFactory(allowed_origins=["https://www.example.com"])

    assert form_origin_allowed(form=form, origin="https://www.example.com")
    assert form_origin_allowed(form=form, origin="https://WWW.example.com/")
    assert not form_origin_allowed(form=form, origin="https://evil.example")
    assert not form_origin_allowed(form=form, origin="http://www.example.com")
    assert not form_origin_allowed(form=form, origin="null")


def test_the_throttle_counts_per_client_and_window():
    def hit(client: str, now: float) -> int | None:
        return submission_throttle(form_id=1, client=client, limit=2, window=60, now=now)

    assert [hit("1.2.3.4", 1000.0), hit("1.2.3.4", 1001.0)] == [None, None]
    assert hit("1.2.3.4", 1010.0) == 10  # the window 960 to 1020 ends in 10 s
    assert hit("5.6.7.8", 1010.0) is None
    assert hit("1.2.3.4", 1021.0) is None  # a new window

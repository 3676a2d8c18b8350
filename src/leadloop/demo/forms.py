"""The demo business's forms: what a B2B site has — contact sales, a demo request, and a gated
download for each of its most recent gated offers — built by marketing ops through the same
service the form builder uses, so `make demo` has forms to open, embed and post to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from leadloop.accounts.models import User
from leadloop.capture.forms import FormSpec, form_create, form_update
from leadloop.capture.models import Form
from leadloop.content.models import ContentKind, ContentOffer

GATED_FORMS: Final = 3  # the most recent gated offers get a download form each
CONSENT: Final = (
    "I agree that Leadloop Demo GmbH may e-mail me about its products. I can unsubscribe at "
    "any time."
)


def _field(
    name: str, label: str, maps_to: str = "", *, kind: str = "text", required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": kind,
        "required": required,
        "maps_to": maps_to,
        "choices": [],
    }


_CONTACT: Final = [
    _field("email", "Work e-mail", "email", kind="email", required=True),
    _field("first_name", "First name", "first_name", required=True),
    _field("last_name", "Last name", "last_name", required=True),
    _field("company", "Company", "company_name", required=True),
    _field("title", "Job title", "title"),
    _field("phone", "Phone", "phone", kind="tel"),
    _field("message", "How can we help?", "attributes.message", kind="textarea"),
]
_DEMO: Final = [
    *_CONTACT[:5],
    _field("phone", "Phone", "phone", kind="tel", required=True),
    _field("country", "Country (two letters, e.g. DE)", "country"),
]
_DOWNLOAD: Final = [*_CONTACT[:4], _field("title", "Job title", "title")]


def _gated(offer: ContentOffer) -> FormSpec:
    """The form in front of a gated offer: a webinar is registered for, the rest downloaded."""
    verb = "Register" if offer.kind == ContentKind.WEBINAR else "Download"
    name = offer.name.removeprefix("Webinar: ")
    return FormSpec(
        name=f"{verb}: {name}"[:200],
        slug=f"get-{offer.slug.removeprefix('demo-')}"[:100],
        fields=_DOWNLOAD,
        consent_text=CONSENT,
        consent_required=True,
        content_offer_id=offer.pk,
        submit_label=verb,
        redirect_url=offer.url,
    )


@dataclass(frozen=True)
class DemoForms:
    """The demo's forms, for the generator to file its leads' form fills under."""

    contact_sales: Form
    request_demo: Form
    gated: dict[int, Form]  # by the id of the content offer each gates

    def __len__(self) -> int:
        return 2 + len(self.gated)


def demo_forms_ensure(*, marketing: User, offers: Sequence[ContentOffer], today: date) -> DemoForms:
    """Create the demo's forms, or bring them back to their definition (idempotent: a reset
    demo's offers are new rows, which the download forms then point at)."""
    gated = sorted(
        (o for o in offers if o.is_gated and (o.published_on or today) <= today),
        key=lambda o: (o.published_on or today, o.slug),
    )[-GATED_FORMS:]
    specs = [
        FormSpec(
            name="Contact sales",
            slug="contact-sales",
            fields=_CONTACT,
            consent_text=CONSENT,
            submit_label="Contact sales",
            thank_you_message="Thank you — someone from our sales team will reply within a day.",
        ),
        FormSpec(
            name="Request a demo",
            slug="request-a-demo",
            fields=_DEMO,
            consent_text=CONSENT,
            submit_label="Book my demo",
            thank_you_message="Thank you — we will call you to find a time for your demo.",
        ),
        *(_gated(offer) for offer in gated),
    ]
    existing = dict(Form.objects.filter(slug__in=[s.slug for s in specs]).values_list("slug", "pk"))
    forms = [
        form_update(form_id=existing[spec.slug], spec=spec, actor=marketing)
        if spec.slug in existing
        else form_create(spec=spec, actor=marketing)
        for spec in specs
    ]
    return DemoForms(
        contact_sales=forms[0],
        request_demo=forms[1],
        gated={form.content_offer_id: form for form in forms[2:] if form.content_offer_id},
    )

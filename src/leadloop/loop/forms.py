"""A form submission, read top to bottom.

    values posted to /f/<slug> (hosted page, HTML post, or the embed's JSON)
    → checked against the form's definition (every problem named by its field)
    → the honeypot: filled means a bot; answer as if all went well and record nothing
    → the lead's fields (identity fields, custom attributes, consent with its text) and the
      touch's, with the external id that makes a repeat within DEDUPE_SECONDS one touch
    → stored as a payload (``submission_check``), and the visitor answered at once
    → a moment later a worker captures it (``loop.intake``): ``submission_inputs`` turns the
      payload into LeadData and TouchInput (form fill, or content download when the form gates
      an offer; attribution parsed from the URL and referrer of the page the form was posted
      from), and the lead is created or updated and the touch recorded, in bulk
      (``loop.ingest.captures_ingest``, what ``loop.services.lead_capture`` does for one).

A silent honeypot (HubSpot's way): a bot that learns it was caught only tries another way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, cast
from urllib.parse import urlsplit

from django.db import models

from leadloop.capture.attribution import attribution_parse
from leadloop.capture.forms import (
    ATTRIBUTE_PREFIX,
    LEAD_TARGETS,
    SUBMISSION_PREFIX,
    FormField,
    choice_split,
)
from leadloop.capture.models import Campaign, Form, TouchKind
from leadloop.capture.services import TouchInput
from leadloop.common.errors import LeadloopError
from leadloop.content.models import ContentOffer
from leadloop.leads.models import Company, Lead
from leadloop.leads.services import EmailInvalid, LeadData, email_normalize

HONEYPOT: Final = "website"
CONSENT: Final = "consent"
_TRUE: Final = frozenset({"on", "true", "1", "yes", "checked"})
_PHONE: Final = re.compile(r"^\+?[0-9 ()./-]{5,40}$")
_MAX_TEXT: Final = {"textarea": 5000}
# A field mapped to a lead's text column holds no more than the column does (the e-mail,
# country and web site are checked, or reduced to a domain, on their own).
_TARGET_MAX: Final[dict[str, int | None]] = {
    **{
        name: cast(models.CharField, Lead._meta.get_field(name)).max_length
        for name in ("first_name", "last_name", "title", "phone")
    },
    "company_name": cast(models.CharField, Company._meta.get_field("name")).max_length,
}
# Double-clicks and retries of the same values within this many seconds are one submission.
DEDUPE_SECONDS: Final = 60
_THANKS: Final = "Thank you! We have received your details."


class SubmissionInvalid(LeadloopError):
    """Posted values that do not fit the form; ``errors`` maps each field name to its message."""

    code = "submission_invalid"

    def __init__(self, errors: Mapping[str, str]) -> None:
        name, msg = next(iter(errors.items()))
        super().__init__(msg, loc=("fields", name))
        self.errors = dict(errors)


@dataclass(frozen=True)
class FormSubmitted:
    """What the visitor is shown after a submission: a redirect, or the message."""

    redirect: str
    message: str


def _value(values: Mapping[str, Any], name: str) -> Any:
    value = values.get(name, "")
    return "" if value is None else value


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip()


def _checked(value: Any) -> bool:
    return value is True or _text(value).lower() in _TRUE


def _field_value(f: FormField, raw: Any) -> tuple[Any, str]:
    """The clean value of one field, or ("", message) when it is wrong."""
    kind, label = f["type"], f["label"]
    if kind == "checkbox":
        checked = _checked(raw)
        return checked, ("" if checked or not f["required"] else f"Tick “{label}” to continue.")
    text = _text(raw)
    if not text:
        return "", (f"Please fill in “{label}”." if f["required"] else "")
    limit = _TARGET_MAX.get(f["maps_to"]) or _MAX_TEXT.get(kind, 1000)
    if len(text) > limit:
        return "", f"“{label}” is longer than {limit} characters."
    if kind == "email":
        try:
            return email_normalize(text, loc=("fields", f["name"])), ""
        except EmailInvalid:
            return "", f"{text!r} is not an e-mail address."
    if kind == "tel" and not _PHONE.match(text):
        return "", f"{text!r} is not a phone number: use digits, spaces and + ( ) -."
    if kind == "number":
        try:
            number = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return "", f"“{label}” must be a number; {text!r} is not one."
        if not number.is_finite():
            return "", f"“{label}” must be a number; {text!r} is not one."
        return (int(number) if number == number.to_integral_value() else float(number)), ""
    if kind == "select":
        allowed = {choice_split(c)[0] for c in f["choices"]}
        if text not in allowed:
            return "", f"Choose one of the options for “{label}”."
    if f["maps_to"] == "country" and not re.fullmatch(r"[A-Za-z]{2}", text):
        return "", f"“{label}”: use a two-letter country code such as DE, {text!r} is not one."
    return (text.upper() if f["maps_to"] == "country" else text), ""


def submission_clean(
    *, form: Form, values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted values that fit `form` (by field name) and the message of each that does not."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in form.fields:
        value, error = _field_value(f, _value(values, f["name"]))
        if error:
            errors[f["name"]] = error
        else:
            clean[f["name"]] = value
    if form.consent_text and form.consent_required and not _checked(_value(values, CONSENT)):
        errors[CONSENT] = "Please give your consent to continue."
    return clean, errors


def _lead_fields(form: Form, clean: Mapping[str, Any], *, consent: bool) -> dict[str, Any]:
    """The payload's ``lead``: LeadData's text fields, ``attributes``, and the consent text."""
    lead: dict[str, Any] = {}
    attributes: dict[str, Any] = {}
    for f in form.fields:
        target, value = f["maps_to"], clean.get(f["name"], "")
        if value in ("", None):
            continue
        if target in LEAD_TARGETS:
            lead[target] = str(value)
        elif target.startswith(ATTRIBUTE_PREFIX):
            attributes[target.removeprefix(ATTRIBUTE_PREFIX)] = value
    if consent and form.consent_text:
        lead["consent_text"] = form.consent_text
    return {**lead, "attributes": attributes}


def _external_id(form: Form, email: str, clean: Mapping[str, Any], at: datetime) -> str:
    digest = hashlib.sha256(
        json.dumps([email, clean], sort_keys=True, default=str).encode()
    ).hexdigest()[:24]
    return f"{SUBMISSION_PREFIX}{form.pk}:{digest}:{int(at.timestamp()) // DEDUPE_SECONDS}"


def submission_check(
    *,
    form: Form,
    values: Mapping[str, Any],
    page_url: str = "",
    referrer: str = "",
    at: datetime,
) -> dict[str, Any] | None:
    """The payload of a submission of `values` to `form` at `at`, or None when the honeypot
    caught a bot. Raises SubmissionInvalid naming every wrong field.

    Pure Python, no query: the public endpoint runs it before answering. The payload (JSON)
    holds what the form mapped at that moment, so capturing it later means the same:
    ``lead`` (LeadData's fields) and ``touch`` (kind, page, referrer, campaign and offer ids,
    the non-identity fields and consent as properties, the external id that makes a repeat of
    the same values within DEDUPE_SECONDS the same touch).
    """
    if _text(_value(values, HONEYPOT)):
        return None
    clean, errors = submission_clean(form=form, values=values)
    if errors:
        raise SubmissionInvalid(errors)
    consent = bool(form.consent_text) and _checked(_value(values, CONSENT))
    lead = _lead_fields(form, clean, consent=consent)
    identity = {f["name"] for f in form.fields if f["maps_to"] in LEAD_TARGETS}
    return {
        "lead": lead,
        "touch": {
            "kind": TouchKind.CONTENT_DOWNLOAD if form.content_offer_id else TouchKind.FORM_FILL,
            "page_url": page_url[:2000],
            "referrer": referrer[:2000],
            "campaign_id": form.campaign_id,
            "content_offer_id": form.content_offer_id,
            "properties": {
                "form": form.slug,
                "form_id": form.pk,
                "fields": {k: v for k, v in clean.items() if k not in identity},
                **({"consent": True} if consent else {}),
            },
            "external_id": _external_id(form, lead.get("email", ""), clean, at),
        },
    }


def submission_rule(form: Form) -> str:
    """The rule a new lead's lifecycle entry names."""
    return f"form {form.slug}"


def submission_inputs(
    *, form: Form, payload: Mapping[str, Any], at: datetime
) -> tuple[LeadData, TouchInput]:
    """What ``lead_capture`` is given for a checked submission received at `at`."""
    lead, touch = payload["lead"], payload["touch"]
    page_url, referrer = touch["page_url"], touch["referrer"]
    page_host = urlsplit(page_url).hostname or ""
    data = LeadData(
        **{k: v for k, v in lead.items() if k != "consent_text" and k != "attributes"},
        attributes=dict(lead.get("attributes", {})),
        consent_text=lead.get("consent_text", ""),
        consent_at=at if lead.get("consent_text") else None,
    )
    touch_input = TouchInput(
        kind=touch["kind"],
        occurred_at=at,
        attribution=attribution_parse(
            landing_page=page_url,
            referrer=referrer,
            own_hosts=(page_host,) if page_host else (),
        ),
        campaign=(
            form.campaign
            if touch["campaign_id"] == form.campaign_id
            else Campaign.objects.filter(pk=touch["campaign_id"]).first()
        ),
        content_offer=(
            form.content_offer
            if touch["content_offer_id"] == form.content_offer_id
            else ContentOffer.objects.filter(pk=touch["content_offer_id"]).first()
        ),
        properties=dict(touch["properties"]),
        external_id=touch["external_id"],
    )
    return data, touch_input


def form_answer(form: Form) -> FormSubmitted:
    """What the page says after a submission (nothing captured yet)."""
    return FormSubmitted(redirect=form.redirect_url, message=form.thank_you_message or _THANKS)

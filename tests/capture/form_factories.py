"""Factories of capture forms (used by the form and tracking tests of capture, loop and web)."""

from __future__ import annotations

import factory

from leadloop.capture.models import Form

CONTACT_FIELDS = [
    {
        "name": "email",
        "label": "Work e-mail",
        "type": "email",
        "required": True,
        "maps_to": "email",
        "choices": [],
    },
    {
        "name": "first_name",
        "label": "First name",
        "type": "text",
        "required": True,
        "maps_to": "first_name",
        "choices": [],
    },
    {
        "name": "company",
        "label": "Company",
        "type": "text",
        "required": False,
        "maps_to": "company_name",
        "choices": [],
    },
    {
        "name": "team_size",
        "label": "Team size",
        "type": "select",
        "required": False,
        "maps_to": "attributes.team_size",
        "choices": ["1-10", "11-50", "51+ | More than 50"],
    },
    {
        "name": "message",
        "label": "How can we help?",
        "type": "textarea",
        "required": False,
        "maps_to": "",
        "choices": [],
    },
]


class FormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Form
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Contact form {n}")
    slug = factory.Sequence(lambda n: f"contact-{n}")
    fields = factory.LazyFunction(lambda: [dict(f) for f in CONTACT_FIELDS])
    submit_label = "Talk to sales"
    thank_you_message = "Thanks, we will be in touch within a day."

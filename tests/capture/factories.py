from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from leadloop.capture.models import Campaign, Channel, Touch, TouchKind
from tests.leads.factories import LeadFactory


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Campaign {n}")
    slug = factory.Sequence(lambda n: f"campaign-{n}")
    channel = Channel.PAID_SEARCH
    starts_on = dt.date(2026, 1, 1)
    cost_amount = Decimal("1000.00")
    cost_currency = "EUR"


class TouchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Touch

    lead = factory.SubFactory(LeadFactory)
    kind = TouchKind.PAGE_VISIT
    channel = Channel.ORGANIC_SEARCH
    source = "google"
    medium = "organic"
    occurred_at = factory.LazyFunction(timezone.now)
    external_id = factory.Sequence(lambda n: f"touch-{n}")

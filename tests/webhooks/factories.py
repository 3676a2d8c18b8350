from __future__ import annotations

import factory
from django.utils import timezone

from leadloop.leads.models import Stage
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.webhooks.models import WebhookEndpoint, WebhookEvent
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEndpoint

    name = factory.Sequence(lambda n: f"CRM {n}")
    # Port 9 (discard): nothing answers there; tests that send point it at a receiver.
    url = "http://127.0.0.1:9/hooks/leadloop"
    events = factory.LazyFunction(
        lambda: [WebhookEvent.STAGE_CHANGED.value, WebhookEvent.LEAD_ASSIGNED.value]
    )
    is_active = True


class StageChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageChange

    lead = factory.SubFactory(LeadFactory, stage=Stage.MQL)
    from_stage = Stage.LEAD
    to_stage = Stage.MQL
    rule = "qualify: fit B+ and engagement 40+"
    agreement_version = 1
    cycle = 1
    at = factory.LazyFunction(timezone.now)


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    lead = factory.SubFactory(LeadFactory, stage=Stage.MQL)
    cycle = 1
    kind = AssignmentKind.ROUTED
    assignee = factory.SubFactory(UserFactory)
    rule = "Round robin DACH"
    why = "Country DE matched territory DACH"
    agreement_version = 1
    at = factory.LazyFunction(timezone.now)

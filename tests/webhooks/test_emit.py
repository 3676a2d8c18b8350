"""Turning stage changes and assignments into deliveries, inside the caller's transaction."""

from __future__ import annotations

import json
from contextlib import suppress

import pytest
from django.db import transaction

from leadloop.accounts.models import Role
from leadloop.common.cache import process_caches_clear
from leadloop.lifecycle.models import StageChange
from leadloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from leadloop.webhooks.payloads import stage_change_payload
from leadloop.webhooks.services import (
    webhook_deliveries_due,
    webhook_endpoint_create,
    webhook_event_emit,
    webhook_lead_assigned_emit,
    webhook_stage_changed_emit,
    webhook_stage_changes_emit,
)
from tests.accounts.factories import UserFactory
from tests.webhooks.factories import AssignmentFactory, StageChangeFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


class Boom(Exception):
    pass


def test_one_delivery_per_active_endpoint_subscribed_to_the_event():
    crm = WebhookEndpointFactory(name="CRM", events=["lead.stage_changed"])
    both = WebhookEndpointFactory(name="Both", events=["lead.assigned", "lead.stage_changed"])
    WebhookEndpointFactory(name="Assignments only", events=["lead.assigned"])
    WebhookEndpointFactory(name="Off", events=["lead.stage_changed"], is_active=False)
    change = StageChangeFactory()

    deliveries = webhook_stage_changed_emit(change=change)

    assert sorted(d.endpoint_id for d in deliveries) == sorted([crm.pk, both.pk])
    stored = WebhookDelivery.objects.order_by("endpoint__name")
    assert [(d.endpoint.name, d.event, d.lead_id, d.status) for d in stored] == [
        ("Both", "lead.stage_changed", change.lead_id, DeliveryStatus.PENDING),
        ("CRM", "lead.stage_changed", change.lead_id, DeliveryStatus.PENDING),
    ]
    # One event, one id for every endpoint: the receiver's dedupe key.
    assert {d.event_id for d in stored} == {deliveries[0].event_id}
    assert stored[0].payload == json.loads(json.dumps(stage_change_payload(change)))


def test_an_assignment_goes_to_endpoints_that_want_assignments():
    wants = WebhookEndpointFactory(events=["lead.assigned"])
    WebhookEndpointFactory(events=["lead.stage_changed"])
    assignment = AssignmentFactory()

    deliveries = webhook_lead_assigned_emit(assignment=assignment)

    assert [(d.endpoint_id, d.event, d.lead_id) for d in deliveries] == [
        (wants.pk, "lead.assigned", assignment.lead_id)
    ]
    assert deliveries[0].payload["assignment_id"] == assignment.pk


def test_without_endpoints_emitting_costs_one_query_then_none_while_cached(
    django_assert_num_queries,
):
    WebhookEndpointFactory(is_active=False)
    change = StageChange.objects.get(pk=StageChangeFactory().pk)  # nothing of it cached

    with django_assert_num_queries(1):
        assert webhook_stage_changed_emit(change=change) == []
    with django_assert_num_queries(0):
        assert webhook_event_emit(event=WebhookEvent.LEAD_ASSIGNED, lead_id=1, payload={}) == []


def test_an_endpoint_created_by_its_service_gets_the_next_event_at_once():
    change = StageChangeFactory()
    assert webhook_stage_changed_emit(change=change) == []  # the empty list is cached now

    endpoint = webhook_endpoint_create(
        actor=UserFactory(role=Role.MARKETING_OPS),
        name="CRM",
        url="https://crm.example.com/in",
        events=["lead.stage_changed"],
    )

    assert [d.endpoint_id for d in webhook_stage_changed_emit(change=change)] == [endpoint.pk]


def test_emitting_the_same_change_twice_creates_one_delivery_per_endpoint():
    WebhookEndpointFactory()
    change = StageChangeFactory()

    first = webhook_stage_changed_emit(change=change)
    again = webhook_stage_changed_emit(change=change)

    assert len(first) == len(again) == 1
    assert WebhookDelivery.objects.count() == 1


def test_a_plain_payload_gets_an_event_id_and_its_event():
    WebhookEndpointFactory(events=["lead.assigned"])

    (delivery,) = webhook_event_emit(
        event=WebhookEvent.LEAD_ASSIGNED, lead_id=None, payload={"note": "hi"}
    )

    assert delivery.payload == {
        "note": "hi",
        "event": "lead.assigned",
        "event_id": str(delivery.event_id),
    }


def test_deliveries_are_sent_after_the_commit(
    receiver, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    endpoint = WebhookEndpointFactory(url=receiver.url)
    receiver.secret = endpoint.secret
    change = StageChangeFactory()

    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        webhook_stage_changed_emit(change=change)
        assert receiver.requests == []
    for callback in callbacks:
        callback()

    assert len(receiver.requests) == 1
    assert receiver.verified == [True]
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


def test_an_emit_in_a_rolled_back_transaction_sends_nothing(
    receiver, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = IMMEDIATE
    WebhookEndpointFactory(url=receiver.url)
    change = StageChangeFactory()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        suppress(Boom),
        transaction.atomic(),
    ):
        webhook_stage_changed_emit(change=change)
        raise Boom

    assert callbacks == []
    assert WebhookDelivery.objects.count() == 0
    assert webhook_deliveries_due() == 0
    assert receiver.requests == []


def test_a_batch_of_stage_changes_gets_one_delivery_each(django_assert_num_queries):
    changes = [StageChangeFactory(), StageChangeFactory()]
    with django_assert_num_queries(1):
        assert webhook_stage_changes_emit(changes=changes) == 0

    WebhookEndpointFactory(events=["lead.stage_changed"])
    process_caches_clear()  # as the endpoint services do

    assert webhook_stage_changes_emit(changes=changes) == 2
    assert sorted(WebhookDelivery.objects.values_list("lead_id", flat=True)) == sorted(
        c.lead_id for c in changes
    )

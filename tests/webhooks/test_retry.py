"""Retry now and Send test event: one attempt at once, from the UI's services."""

from __future__ import annotations

import datetime as dt

import pytest

from leadloop.accounts.models import Role
from leadloop.common.errors import PermissionDenied
from leadloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from leadloop.webhooks.services import (
    DeliveryNotRetryable,
    webhook_deliver,
    webhook_delivery_retry,
    webhook_endpoint_test_send,
    webhook_stage_changed_emit,
)
from tests.accounts.factories import UserFactory
from tests.webhooks.factories import StageChangeFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def mara():
    return UserFactory(username="mara", role=Role.MARKETING_OPS)


def _failed_once(url: str) -> WebhookDelivery:
    WebhookEndpointFactory(url=url)
    (delivery,) = webhook_stage_changed_emit(change=StageChangeFactory())
    webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery


def test_retry_now_sends_a_retrying_delivery_before_its_time(receiver, mara, time_machine):
    time_machine.move_to(T0, tick=False)
    receiver.answer(500)
    delivery = _failed_once(receiver.url)
    assert delivery.next_attempt_at == T0 + dt.timedelta(seconds=10)

    retried = webhook_delivery_retry(delivery_id=delivery.pk, actor=mara)

    assert (retried.status, retried.attempts, retried.last_status_code) == (
        DeliveryStatus.DELIVERED,
        2,
        200,
    )
    assert len(receiver.requests) == 2


def test_retrying_a_failed_delivery_makes_one_more_attempt(receiver, mara, settings):
    settings.LEADLOOP_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.default = 500
    delivery = _failed_once(receiver.url)
    assert delivery.status == DeliveryStatus.FAILED

    again = webhook_delivery_retry(delivery_id=delivery.pk, actor=mara)

    assert (again.status, again.attempts, len(again.attempt_log)) == (DeliveryStatus.FAILED, 2, 2)
    receiver.default = 200
    fixed = webhook_delivery_retry(delivery_id=delivery.pk, actor=mara)
    assert (fixed.status, fixed.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert len(receiver.requests) == 3


def test_a_delivered_delivery_cannot_be_retried(receiver, mara):
    delivery = _failed_once(receiver.url)

    with pytest.raises(DeliveryNotRetryable, match=f"Delivery {delivery.pk} was delivered already"):
        webhook_delivery_retry(delivery_id=delivery.pk, actor=mara)

    assert len(receiver.requests) == 1


def test_a_delivery_of_an_endpoint_that_is_off_cannot_be_retried(refused_url, mara):
    delivery = _failed_once(refused_url)
    delivery.endpoint.is_active = False
    delivery.endpoint.save()

    with pytest.raises(DeliveryNotRetryable, match="is off: turn it on"):
        webhook_delivery_retry(delivery_id=delivery.pk, actor=mara)


def test_a_sales_rep_cannot_retry(refused_url):
    delivery = _failed_once(refused_url)

    with pytest.raises(PermissionDenied):
        webhook_delivery_retry(delivery_id=delivery.pk, actor=UserFactory(role=Role.SALES_REP))


def test_a_test_event_is_sent_at_once_even_to_an_endpoint_that_is_off(receiver, mara):
    endpoint = WebhookEndpointFactory(url=receiver.url, is_active=False, name="Staging CRM")
    receiver.secret = endpoint.secret

    delivery = webhook_endpoint_test_send(endpoint_id=endpoint.pk, actor=mara)

    assert (delivery.event, delivery.status, delivery.lead_id) == (
        WebhookEvent.TEST,
        DeliveryStatus.DELIVERED,
        None,
    )
    (request,) = receiver.requests
    assert request.headers["X-Leadloop-Event"] == "webhook.test"
    assert receiver.verified == [True]
    assert delivery.payload["endpoint"] == "Staging CRM"


def test_a_failed_test_event_is_not_retried(refused_url, mara, time_machine):
    time_machine.move_to(T0, tick=False)
    endpoint = WebhookEndpointFactory(url=refused_url)

    delivery = webhook_endpoint_test_send(endpoint_id=endpoint.pk, actor=mara)

    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        DeliveryStatus.FAILED,
        1,
        None,
    )
    assert delivery.last_error.startswith("Could not connect")

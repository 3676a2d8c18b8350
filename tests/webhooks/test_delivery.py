"""Sending deliveries to a real HTTP receiver on 127.0.0.1: signatures, retries, failures."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import default_task_backend
from django_tasks.base import Task

from leadloop.accounts.models import Role
from leadloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from leadloop.webhooks.services import (
    body_bytes,
    webhook_deliver,
    webhook_deliveries_due,
    webhook_endpoint_update,
    webhook_stage_changed_emit,
)
from leadloop.webhooks.signing import verify
from leadloop.webhooks.tasks import webhook_deliver_task
from tests.accounts.factories import UserFactory
from tests.webhooks.factories import StageChangeFactory, WebhookEndpointFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)


def _emit(url: str, **endpoint) -> WebhookDelivery:
    WebhookEndpointFactory(url=url, **endpoint)
    (delivery,) = webhook_stage_changed_emit(change=StageChangeFactory())
    return delivery


def _sweep_at(time_machine, at: dt.datetime) -> int:
    time_machine.move_to(at, tick=False)
    return webhook_deliveries_due(now=timezone.now())


def test_the_receiver_gets_the_signed_json_body_with_its_headers(receiver, time_machine):
    time_machine.move_to(T0, tick=False)
    delivery = _emit(receiver.url)
    secret = delivery.endpoint.secret

    webhook_deliver(delivery_id=delivery.pk)

    (request,) = receiver.requests
    headers = request.headers
    assert request.path == "/hooks/leadloop"
    assert json.loads(request.body) == delivery.payload
    assert request.body == body_bytes(delivery.payload)
    assert (
        headers["Content-Type"],
        headers["User-Agent"],
        headers["X-Leadloop-Event"],
        headers["X-Leadloop-Delivery"],
        headers["X-Leadloop-Attempt"],
        headers["X-Leadloop-Timestamp"],
    ) == (
        "application/json",
        "Leadloop-Webhooks/1",
        "lead.stage_changed",
        str(delivery.event_id),
        "1",
        str(int(T0.timestamp())),
    )
    assert verify(
        secret, headers["X-Leadloop-Timestamp"], request.body, headers["X-Leadloop-Signature"]
    )
    assert not verify(
        "not-the-secret",
        headers["X-Leadloop-Timestamp"],
        request.body,
        headers["X-Leadloop-Signature"],
    )


def test_a_2xx_answer_marks_the_delivery_delivered(receiver, time_machine):
    time_machine.move_to(T0, tick=False)
    receiver.answer(204)
    delivery = _emit(receiver.url)

    webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error) == (
        DeliveryStatus.DELIVERED,
        1,
        204,
        "",
    )
    assert (delivery.delivered_at, delivery.next_attempt_at) == (T0, None)
    (entry,) = delivery.attempt_log
    assert entry["attempt"] == 1
    assert (entry["at"], entry["status_code"], entry["error"]) == ("2026-03-02T10:00:00Z", 204, "")
    assert isinstance(entry["ms"], int)


def test_a_receiver_that_fails_twice_then_succeeds_gets_exactly_three_attempts(
    receiver, time_machine
):
    time_machine.move_to(T0, tick=False)
    receiver.answer(500, 500)  # then 200
    delivery = _emit(receiver.url)
    receiver.secret = delivery.endpoint.secret

    assert _sweep_at(time_machine, T0) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.RETRYING, T0 + 10 * S)

    assert _sweep_at(time_machine, T0 + 9 * S) == 0  # not due yet
    assert _sweep_at(time_machine, T0 + 10 * S) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.RETRYING, T0 + 70 * S)

    assert _sweep_at(time_machine, T0 + 69 * S) == 0
    assert _sweep_at(time_machine, T0 + 70 * S) == 1
    assert _sweep_at(time_machine, T0 + 1000 * S) == 0

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.delivered_at, delivery.next_attempt_at) == (
        3,
        T0 + 70 * S,
        None,
    )
    assert [
        (e["attempt"], e["at"], e["status_code"], e["error"]) for e in delivery.attempt_log
    ] == [
        (1, "2026-03-02T10:00:00Z", 500, "HTTP 500 Internal Server Error"),
        (2, "2026-03-02T10:00:10Z", 500, "HTTP 500 Internal Server Error"),
        (3, "2026-03-02T10:01:10Z", 200, ""),
    ]
    assert [r.headers["X-Leadloop-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert {r.headers["X-Leadloop-Delivery"] for r in receiver.requests} == {str(delivery.event_id)}
    assert receiver.verified == [True, True, True]


def test_a_receiver_that_always_fails_ends_failed_after_max_attempts(
    receiver, time_machine, settings
):
    settings.LEADLOOP_WEBHOOK_MAX_ATTEMPTS = 6
    time_machine.move_to(T0, tick=False)
    receiver.default = 503
    delivery = _emit(receiver.url)
    waits = [10 * S, 60 * S, 300 * S, 1800 * S, 7200 * S]

    at = T0
    scheduled = []
    for wait in [dt.timedelta(0), *waits]:
        at += wait
        assert _sweep_at(time_machine, at) == 1
        delivery.refresh_from_db()
        scheduled.append(delivery.next_attempt_at)

    assert scheduled == [T0 + 10 * S, T0 + 70 * S, T0 + 370 * S, T0 + 2170 * S, T0 + 9370 * S, None]
    assert (delivery.status, delivery.attempts, len(delivery.attempt_log)) == (
        DeliveryStatus.FAILED,
        6,
        6,
    )
    assert (delivery.last_status_code, delivery.last_error) == (503, "HTTP 503 Service Unavailable")
    assert _sweep_at(time_machine, at + dt.timedelta(days=30)) == 0
    assert len(receiver.requests) == 6


def test_a_refused_connection_is_recorded_as_an_error_and_retried(refused_url, time_machine):
    time_machine.move_to(T0, tick=False)
    delivery = _emit(refused_url)

    webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, delivery.next_attempt_at) == (
        DeliveryStatus.RETRYING,
        None,
        T0 + 10 * S,
    )
    assert delivery.last_error.startswith("Could not connect: ")
    assert "refused" in delivery.last_error.lower()
    (entry,) = delivery.attempt_log
    assert (entry["status_code"], entry["error"]) == (None, delivery.last_error)


def test_a_receiver_that_does_not_answer_in_time_is_recorded_as_a_timeout(receiver, settings):
    settings.LEADLOOP_WEBHOOK_TIMEOUT = 0.3
    receiver.delay = 3
    delivery = _emit(receiver.url)

    webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
        DeliveryStatus.RETRYING,
        None,
        "Timed out: no answer within 0.3 s",
    )
    assert 250 <= delivery.attempt_log[0]["ms"] < 3000
    assert len(receiver.requests) == 1


def test_a_redirect_is_not_followed_and_counts_as_a_failure(receiver):
    receiver.answer(302)
    delivery = _emit(receiver.url)

    webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code, delivery.last_error) == (
        DeliveryStatus.RETRYING,
        302,
        "HTTP 302 Found",
    )
    assert len(receiver.requests) == 1


def test_the_receivers_answer_is_kept_in_the_log(receiver):
    receiver.answer(422)
    delivery = _emit(receiver.url)

    webhook_deliver(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.attempt_log[0]["response"] == "receiver says no"


def test_an_inactive_endpoint_gets_nothing_until_it_is_switched_on(receiver, time_machine):
    time_machine.move_to(T0, tick=False)
    delivery = _emit(receiver.url)
    endpoint = delivery.endpoint
    endpoint.is_active = False
    endpoint.save()

    assert _sweep_at(time_machine, T0 + 60 * S) == 0
    assert webhook_deliver(delivery_id=delivery.pk) is None
    assert receiver.requests == []

    endpoint.is_active = True
    endpoint.save()
    assert _sweep_at(time_machine, T0 + 120 * S) == 1
    assert len(receiver.requests) == 1


def test_an_unsubscribed_event_gets_nothing(receiver):
    WebhookEndpointFactory(url=receiver.url, events=[WebhookEvent.LEAD_ASSIGNED.value])

    assert webhook_stage_changed_emit(change=StageChangeFactory()) == []
    assert webhook_deliveries_due() == 0
    assert receiver.requests == []


def test_a_settled_delivery_is_never_sent_again(receiver):
    delivery = _emit(receiver.url)
    webhook_deliver(delivery_id=delivery.pk)

    assert webhook_deliver(delivery_id=delivery.pk) is None
    assert webhook_deliveries_due(now=timezone.now() + dt.timedelta(days=1)) == 0
    assert len(receiver.requests) == 1


def test_the_next_attempt_is_enqueued_for_its_time_where_the_backend_can_defer(
    receiver, settings, time_machine
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    default_task_backend.clear()
    time_machine.move_to(T0, tick=False)
    receiver.answer(500)
    delivery = _emit(receiver.url)

    webhook_deliver(delivery_id=delivery.pk)

    (result,) = default_task_backend.results
    assert (result.task.func, result.task.run_after, result.kwargs) == (
        webhook_deliver_task.func,
        T0 + 10 * S,
        {"delivery_id": delivery.pk},
    )


def test_the_deliver_task_sends_a_due_delivery_and_returns_its_status(receiver):
    delivery = _emit(receiver.url)

    assert webhook_deliver_task.call(delivery_id=delivery.pk) == "delivered"
    assert webhook_deliver_task.call(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1


def _in_thread(target, *args, **kwargs):
    """Run `target` in a thread with its own database connection; returns (thread, results)."""
    results: list[object] = []

    def run() -> None:
        try:
            results.append(target(*args, **kwargs))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


@pytest.mark.django_db(transaction=True)
def test_a_second_worker_does_not_send_an_attempt_that_is_in_flight(receiver):
    receiver.gate = threading.Event()  # the receiver holds its answer until opened
    delivery = _emit(receiver.url)

    first, first_result = _in_thread(webhook_deliver, delivery_id=delivery.pk)
    assert receiver.arrived.wait(5)
    second = webhook_deliver(delivery_id=delivery.pk)
    swept = webhook_deliveries_due()
    receiver.gate.set()
    first.join(10)

    assert (second, swept) == (None, 0)
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, len(delivery.attempt_log)) == (
        DeliveryStatus.DELIVERED,
        1,
        1,
    )
    assert first_result[0] is not None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_send_each_attempt_once(receiver):
    if connection.vendor != "postgresql":
        # The in-memory SQLite test database fails a second writer thread with "database
        # table is locked" instead of waiting, as the WAL file database does.
        pytest.skip("two writer threads at the same instant need PostgreSQL here")
    WebhookEndpointFactory(url=receiver.url)
    deliveries = [webhook_stage_changed_emit(change=StageChangeFactory())[0] for _ in range(10)]
    start = threading.Barrier(2)

    def sweep() -> int:
        start.wait(5)
        return webhook_deliveries_due()

    runs = [_in_thread(sweep) for _ in range(2)]
    for thread, _ in runs:
        thread.join(30)

    assert sum(results[0] for _, results in runs) == 10
    assert sorted(r.headers["X-Leadloop-Delivery"] for r in receiver.requests) == sorted(
        str(d.event_id) for d in deliveries
    )
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}


def test_a_sweep_spends_one_attempt_on_an_unreachable_receiver_and_serves_the_others(
    receiver, refused_url
):
    down = WebhookEndpointFactory(url=refused_url, events=["lead.stage_changed"])
    up = WebhookEndpointFactory(url=receiver.url, events=["lead.stage_changed"])
    for _ in range(3):
        webhook_stage_changed_emit(change=StageChangeFactory())

    assert webhook_deliveries_due() == 4

    assert sorted(
        WebhookDelivery.objects.filter(endpoint=down).values_list("attempts", flat=True)
    ) == [0, 0, 1]
    assert set(WebhookDelivery.objects.filter(endpoint=up).values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }
    assert len(receiver.requests) == 3


def test_switching_an_endpoint_on_sends_what_waited_at_once(
    receiver, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    delivery = _emit(receiver.url)
    endpoint = delivery.endpoint
    endpoint.is_active = False
    endpoint.save()
    mara = UserFactory(role=Role.MARKETING_OPS)

    with django_capture_on_commit_callbacks(execute=True):
        webhook_endpoint_update(
            actor=mara,
            endpoint_id=endpoint.pk,
            name=endpoint.name,
            url=endpoint.url,
            events=endpoint.events,
            is_active=True,
        )

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 1


def test_the_sweep_task_the_scheduler_enqueues_sends_what_is_due(receiver):
    sweep = import_string("leadloop.webhooks.tasks.webhook_deliveries_due")
    _emit(receiver.url)

    assert isinstance(sweep, Task)
    assert sweep.call() == 1
    assert sweep.call() == 0
    assert len(receiver.requests) == 1

"""The Webhooks pages: endpoints, settings and secret, the delivery log, retry and test send."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.test import Client

from leadloop.accounts.models import Role
from leadloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from leadloop.webhooks.services import webhook_deliver, webhook_stage_changed_emit
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.web.helpers import row, table_rows, text
from tests.webhooks.factories import StageChangeFactory, WebhookEndpointFactory
from tests.webhooks.receiver import Receiver, refused_address, serving

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as state:
        yield state


@pytest.fixture
def refused_url() -> str:
    return refused_address()


@pytest.fixture
def mara(client: Client) -> Client:
    client.force_login(UserFactory(username="mara", role=Role.MARKETING_OPS))
    return client


def _delivery(url: str, *, lead_email: str = "ada@analytical.example") -> WebhookDelivery:
    if not WebhookEndpoint.objects.exists():
        WebhookEndpointFactory(name="Salesforce", url=url)
    change = StageChangeFactory(lead=LeadFactory(email=lead_email))
    (delivery,) = webhook_stage_changed_emit(change=change)
    return delivery


def _field_error(page: str, field: str) -> str:
    match = re.search(rf'<p class="field__error" id="{field}-error">([^<]*)</p>', page)
    assert match, f"no error shown by the {field} field"
    return match.group(1)


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER, Role.REVENUE_LEADER])
def test_only_admins_and_marketing_ops_reach_the_webhook_pages(client, role):
    endpoint = WebhookEndpointFactory()
    client.force_login(UserFactory(role=role))

    pages = [
        "/webhooks/",
        "/webhooks/new/",
        f"/webhooks/{endpoint.pk}/",
        f"/webhooks/{endpoint.pk}/edit/",
    ]

    assert [client.get(p).status_code for p in pages] == [403, 403, 403, 403]
    assert client.post(f"/webhooks/{endpoint.pk}/rotate/").status_code == 403
    assert "/webhooks/" not in text(client.get("/"))


def test_admins_see_webhooks_in_the_navigation(client):
    client.force_login(UserFactory(role=Role.ADMIN))

    assert '<a class="sidenav__link" href="/webhooks/"' in text(client.get("/"))


def test_the_list_shows_each_endpoint_with_its_last_delivery_and_failure_counts(
    mara, receiver, settings
):
    settings.LEADLOOP_WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answer(500, 200)
    failed = _delivery(receiver.url, lead_email="a@a.example")
    ok = _delivery(receiver.url, lead_email="b@b.example")
    webhook_deliver(delivery_id=failed.pk)
    webhook_deliver(delivery_id=ok.pk)
    _delivery(receiver.url, lead_email="c@c.example")  # pending
    WebhookEndpointFactory(name="Quiet", is_active=False)

    response = mara.get("/webhooks/")

    endpoint = failed.endpoint
    cells = row(response, "endpoints", "endpoint", str(endpoint.pk))
    assert cells[0] == f"Salesforce {receiver.url}"
    assert cells[1] == "A lead's stage changed, A lead was assigned"
    assert cells[2].startswith("Pending ")
    assert cells[3:] == ["0", "1", "1", "Active"]
    assert [r[0].split()[0] for r in table_rows(response, "endpoints")] == ["Quiet", "Salesforce"]
    assert table_rows(response, "endpoints")[0][2:] == ["none yet", "0", "0", "0", "Off"]


def test_creating_an_endpoint_with_a_bad_url_shows_the_error_by_the_field(mara):
    response = mara.post(
        "/webhooks/new/",
        {
            "name": "CRM",
            "url": "ftp://crm.example.com/in",
            "events": ["lead.assigned"],
            "is_active": "on",
        },
    )

    page = text(response)
    assert response.status_code == 400
    assert _field_error(page, "url") == (
        "URL: &#x27;ftp://crm.example.com/in&#x27; must start with http:// or https://."
    )
    assert (
        'id="id_url" name="url" type="url" maxlength="500" value="ftp://crm.example.com/in"' in page
    )
    assert 'aria-invalid="true"' in page
    assert 'value="CRM"' in page
    assert WebhookEndpoint.objects.count() == 0


def test_creating_an_endpoint_leads_to_its_settings_with_the_secret_to_copy(mara):
    response = mara.post(
        "/webhooks/new/",
        {
            "name": "CRM",
            "url": "https://crm.example.com/in",
            "events": ["lead.stage_changed"],
            "is_active": "on",
        },
        follow=True,
    )

    endpoint = WebhookEndpoint.objects.get()
    assert response.redirect_chain == [(f"/webhooks/{endpoint.pk}/edit/", 302)]
    page = text(response)
    assert f'value="{endpoint.secret}"' in page
    assert 'data-copy="#endpoint-secret"' in page
    assert "Endpoint “CRM” created." in page
    assert endpoint.events == ["lead.stage_changed"]


def test_rotating_the_secret_shows_the_new_one(mara):
    endpoint = WebhookEndpointFactory()
    old = endpoint.secret

    response = mara.post(f"/webhooks/{endpoint.pk}/rotate/", follow=True)

    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert f'value="{endpoint.secret}"' in text(response)
    assert old not in text(response)


def test_editing_can_switch_an_endpoint_off(mara):
    endpoint = WebhookEndpointFactory(name="CRM", url="https://crm.example.com/in")

    mara.post(
        f"/webhooks/{endpoint.pk}/edit/",
        {"name": "CRM", "url": "https://crm.example.com/v2", "events": ["lead.assigned"]},
    )

    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.is_active) == (
        "https://crm.example.com/v2",
        ["lead.assigned"],
        False,
    )


def test_the_log_shows_time_event_lead_status_attempts_answer_and_next_attempt(
    mara, receiver, time_machine
):
    time_machine.move_to(T0, tick=False)
    receiver.answer(500)
    delivery = _delivery(receiver.url)
    webhook_deliver(delivery_id=delivery.pk)

    response = mara.get(f"/webhooks/{delivery.endpoint_id}/")

    cells = row(response, "deliveries", "delivery", str(delivery.pk))
    assert cells[:6] == [
        "2 Mar, 11:00:00 lead.stage_changed",  # the viewer's zone: Europe/Berlin
        "ada@analytical.example",
        "Retrying",
        "1",
        "HTTP 500 Internal Server Error",
        "11:00:10",  # today: the time only
    ]
    assert f'href="/leads/{delivery.lead_id}/"' in text(response)
    assert "Retry now" in cells[6]


def test_the_log_filters_by_status(mara, receiver):
    delivered = _delivery(receiver.url, lead_email="a@a.example")
    webhook_deliver(delivery_id=delivered.pk)
    pending = _delivery(receiver.url, lead_email="b@b.example")

    response = mara.get(f"/webhooks/{delivered.endpoint_id}/?status=pending")

    assert [r[1] for r in table_rows(response, "deliveries")] == ["b@b.example"]
    assert f'data-delivery="{pending.pk}"' in text(response)


def test_retry_now_with_htmx_answers_with_the_updated_row(mara, receiver):
    receiver.answer(500)
    delivery = _delivery(receiver.url)
    webhook_deliver(delivery_id=delivery.pk)

    response = mara.post(
        f"/webhooks/{delivery.endpoint_id}/deliveries/{delivery.pk}/retry/",
        headers={"HX-Request": "true"},
    )

    page = text(response)
    assert page.lstrip().startswith(f'<tr data-delivery="{delivery.pk}"')
    assert "Delivered" in page
    assert "Retry now" not in page
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 2)
    assert len(receiver.requests) == 2


def test_retry_now_without_javascript_returns_to_the_delivery_with_the_outcome(
    mara, receiver, refused_url
):
    delivery = _delivery(refused_url)

    response = mara.post(
        f"/webhooks/{delivery.endpoint_id}/deliveries/{delivery.pk}/retry/", follow=True
    )

    assert response.redirect_chain == [
        (f"/webhooks/{delivery.endpoint_id}/deliveries/{delivery.pk}/", 302)
    ]
    assert "Still not delivered: Could not connect" in text(response)


def test_a_delivered_delivery_is_not_retried_and_says_why(mara, receiver):
    delivery = _delivery(receiver.url)
    webhook_deliver(delivery_id=delivery.pk)

    response = mara.post(
        f"/webhooks/{delivery.endpoint_id}/deliveries/{delivery.pk}/retry/",
        headers={"HX-Request": "true"},
    )

    assert f"Delivery {delivery.pk} was delivered already" in text(response)
    assert len(receiver.requests) == 1


def test_send_test_event_reports_the_receivers_answer(mara, receiver):
    endpoint = WebhookEndpointFactory(url=receiver.url)

    response = mara.post(f"/webhooks/{endpoint.pk}/test/", follow=True)

    page = text(response)
    assert re.search(r"Test event delivered: the receiver answered 200 in \d+ ms\.", page)
    (delivery,) = WebhookDelivery.objects.all()
    cells = row(response, "deliveries", "delivery", str(delivery.pk))
    assert cells[0].endswith(" webhook.test")
    assert cells[1:3] == ["—", "Delivered"]


def test_send_test_event_to_a_dead_receiver_says_what_went_wrong(mara, refused_url):
    endpoint = WebhookEndpointFactory(url=refused_url)

    response = mara.post(f"/webhooks/{endpoint.pk}/test/", follow=True)

    assert "Test event not delivered: Could not connect" in text(response)


def test_the_delivery_page_shows_each_attempt_and_the_payload(mara, receiver, time_machine):
    time_machine.move_to(T0, tick=False)
    receiver.answer(503)
    delivery = _delivery(receiver.url)
    webhook_deliver(delivery_id=delivery.pk)
    time_machine.move_to(T0 + dt.timedelta(seconds=10), tick=False)
    webhook_deliver(delivery_id=delivery.pk)

    response = mara.get(f"/webhooks/{delivery.endpoint_id}/deliveries/{delivery.pk}/")

    rows = table_rows(response, "attempts")
    assert [(r[0], r[1], r[2].split(" ", 2)[:2]) for r in rows] == [
        ("2", "2 Mar 2026, 11:00:10", ["HTTP", "200"]),
        ("1", "2 Mar 2026, 11:00:00", ["HTTP", "503"]),
    ]
    page = text(response)
    assert "Service Unavailable" in page
    assert "&quot;to_stage&quot;: &quot;mql&quot;" in page
    assert str(delivery.event_id) in page


def test_deleting_an_endpoint_returns_to_the_list(mara):
    endpoint = WebhookEndpointFactory(name="Old CRM")

    response = mara.post(f"/webhooks/{endpoint.pk}/delete/", follow=True)

    assert response.redirect_chain == [("/webhooks/", 302)]
    assert "Endpoint “Old CRM” and its delivery log deleted." in text(response)
    assert not WebhookEndpoint.objects.exists()


def test_a_missing_endpoint_or_delivery_is_404(mara):
    endpoint = WebhookEndpointFactory()

    assert mara.get("/webhooks/999/").status_code == 404
    assert mara.get(f"/webhooks/{endpoint.pk}/deliveries/999/").status_code == 404

"""The Webhooks pages in a real browser: create an endpoint (a bad URL first), read the log,
"Retry now" swaps the row in place, the delivery page, a phone-width log. Screenshots go to
artifacts/screenshots/webhooks-*.png."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadloop.accounts.models import Role
from leadloop.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from leadloop.webhooks.services import webhook_deliver, webhook_stage_changed_emit
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.web.conftest import SHOTS
from tests.webhooks.factories import StageChangeFactory, WebhookEndpointFactory
from tests.webhooks.receiver import Receiver, serving

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as state:
        yield state


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _log_with_every_status(url: str, receiver: Receiver) -> tuple[WebhookEndpoint, WebhookDelivery]:
    """An endpoint whose log has a delivered, a retrying (500) and a refused-then-failed row."""
    endpoint = WebhookEndpointFactory(name="Salesforce (production)", url=url)
    receiver.answer(500)  # the first attempt of the retrying row
    emails = ["grace@cobol.example", "ada@analytical.example", "alan@bletchley.example"]
    deliveries = []
    for email in emails:
        change = StageChangeFactory(lead=LeadFactory(email=email))
        (delivery,) = webhook_stage_changed_emit(change=change)
        deliveries.append(delivery)
    webhook_deliver(delivery_id=deliveries[1].pk)  # 500: retrying
    webhook_deliver(delivery_id=deliveries[2].pk)  # 200: delivered
    return endpoint, deliveries[1]


def test_marketing_ops_sets_up_an_endpoint_and_retries_a_delivery(browser, live_server, receiver):
    UserFactory(username="mara", first_name="Mara", last_name="Marketing", role=Role.MARKETING_OPS)
    endpoint, retrying = _log_with_every_status(receiver.url, receiver)
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _sign_in(page, live_server.url, "mara")

    page.get_by_role("link", name="Webhooks").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Webhooks"
    assert page.locator(f'[data-figure="retrying-{endpoint.pk}"]').inner_text() == "1"
    page.screenshot(path=str(SHOTS / "webhooks-list.png"), full_page=True)

    page.get_by_role("link", name="New endpoint").click()
    page.get_by_label("Name").fill("HubSpot")
    page.get_by_label("URL", exact=True).fill("ftp://hubspot.example/in")
    page.get_by_role("button", name="Create endpoint").click()
    error = page.locator("#url-error")
    assert (
        error.inner_text() == "URL: 'ftp://hubspot.example/in' must start with http:// or https://."
    )
    assert page.get_by_label("URL", exact=True).get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(SHOTS / "webhooks-new-error.png"), full_page=True)
    page.get_by_label("URL", exact=True).fill("https://hubspot.example/in")
    page.get_by_role("button", name="Create endpoint").click()
    page.wait_for_selector("[data-secret]")
    created = WebhookEndpoint.objects.get(name="HubSpot")
    assert page.locator("[data-secret]").input_value() == created.secret
    page.get_by_role("button", name="Copy secret").click()
    page.screenshot(path=str(SHOTS / "webhooks-edit.png"), full_page=True)

    page.goto(f"{live_server.url}/webhooks/{endpoint.pk}/")
    row = page.locator(f'tr[data-delivery="{retrying.pk}"]')
    assert row.locator(".wh-status").inner_text() == "Retrying"
    page.screenshot(path=str(SHOTS / "webhooks-log.png"), full_page=True)
    row.get_by_role("button", name="Retry now").click()
    page.wait_for_selector(f'tr[data-delivery="{retrying.pk}"].wh-row--updated')
    assert page.locator(f'tr[data-delivery="{retrying.pk}"] .wh-status').inner_text() == "Delivered"
    retrying.refresh_from_db()
    assert (retrying.status, retrying.attempts) == (DeliveryStatus.DELIVERED, 2)

    page.locator(f'tr[data-delivery="{retrying.pk}"] a').first.click()
    assert page.locator('[data-table="attempts"] tbody tr').count() == 2
    page.screenshot(path=str(SHOTS / "webhooks-delivery.png"), full_page=True)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    _sign_in(small, live_server.url, "mara")
    overflow = {}
    for path in [
        "/webhooks/",
        f"/webhooks/{endpoint.pk}/edit/",
        f"/webhooks/{endpoint.pk}/deliveries/{retrying.pk}/",
        f"/webhooks/{endpoint.pk}/",  # last: the screenshot
    ]:
        small.goto(f"{live_server.url}{path}")
        overflow[path] = small.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    small.screenshot(path=str(SHOTS / "webhooks-log-phone.png"), full_page=True)
    phone.close()
    context.close()

    assert overflow == dict.fromkeys(overflow, 0)  # nothing wider than a phone
    # The form with errors is answered 400, which Chromium reports on the console.
    assert [e for e in errors if "status of 400" not in e] == []

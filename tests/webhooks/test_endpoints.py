from __future__ import annotations

import pytest

from leadloop.accounts.models import Role
from leadloop.common.errors import NotFound, PermissionDenied
from leadloop.webhooks.models import WebhookDelivery, WebhookEndpoint
from leadloop.webhooks.services import (
    WebhookEndpointInvalid,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_secret_rotate,
)
from tests.accounts.factories import UserFactory
from tests.webhooks.factories import WebhookEndpointFactory

pytestmark = pytest.mark.django_db

BOTH = ["lead.stage_changed", "lead.assigned"]


@pytest.fixture
def mara():
    return UserFactory(username="mara", role=Role.MARKETING_OPS)


def _create(actor, **overrides):
    values = {"name": "Salesforce", "url": "https://crm.example.com/hooks", "events": BOTH}
    return webhook_endpoint_create(actor=actor, **{**values, **overrides})


def test_marketing_ops_creates_an_endpoint_with_a_fresh_secret(mara):
    endpoint = _create(mara, name="  Salesforce  ", events=["lead.assigned"])

    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.url, endpoint.events, endpoint.is_active) == (
        "Salesforce",
        "https://crm.example.com/hooks",
        ["lead.assigned"],
        True,
    )
    assert endpoint.created_by == mara
    assert len(endpoint.secret) >= 40


def test_two_endpoints_never_share_a_secret(mara):
    assert _create(mara).secret != _create(mara).secret


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://crm.example.com/x",
            "URL: 'ftp://crm.example.com/x' must start with http:// or https://.",
        ),
        (
            "crm.example.com/hooks",
            "URL: 'crm.example.com/hooks' must start with http:// or https://.",
        ),
        ("https:///hooks", "URL: 'https:///hooks' has no host name."),
        (
            "https://crm.example.com:99999/",
            "URL: 'https://crm.example.com:99999/' has an invalid port.",
        ),
        ("https://crm.example.com/a b", "URL: 'https://crm.example.com/a b' contains a space."),
        ("", "URL: enter the address that receives the events"),
    ],
)
def test_a_url_that_is_not_http_or_https_is_refused_naming_the_field(mara, url, message):
    with pytest.raises(WebhookEndpointInvalid) as caught:
        _create(mara, url=url)

    assert [(loc, msg[: len(message)]) for loc, msg in caught.value.errors] == [(("url",), message)]
    assert WebhookEndpoint.objects.count() == 0


def test_an_unknown_event_is_refused_naming_it(mara):
    with pytest.raises(WebhookEndpointInvalid) as caught:
        _create(mara, events=["lead.assigned", "lead.deleted"])

    assert caught.value.errors == [
        (
            ("events", 1),
            "Events: 'lead.deleted' is not an event Leadloop sends "
            "(known: lead.assigned, lead.stage_changed).",
        )
    ]


def test_the_test_event_cannot_be_subscribed_to(mara):
    with pytest.raises(WebhookEndpointInvalid, match=r"'webhook\.test' is not an event"):
        _create(mara, events=["webhook.test"])


def test_every_problem_is_reported_at_once(mara):
    with pytest.raises(WebhookEndpointInvalid) as caught:
        _create(mara, name=" ", url="mailto:x@example.com", events=[])

    assert [loc for loc, _ in caught.value.errors] == [("name",), ("url",), ("events",)]
    assert caught.value.errors[2][1] == "Events: choose at least one event to send."


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER, Role.REVENUE_LEADER])
def test_only_admins_and_marketing_ops_manage_endpoints(role):
    endpoint = WebhookEndpointFactory()
    actor = UserFactory(role=role)

    with pytest.raises(PermissionDenied, match="Only admins and marketing ops"):
        _create(actor)
    with pytest.raises(PermissionDenied):
        webhook_secret_rotate(actor=actor, endpoint_id=endpoint.pk)
    with pytest.raises(PermissionDenied):
        webhook_endpoint_delete(actor=actor, endpoint_id=endpoint.pk)


def test_a_superuser_of_any_role_manages_endpoints():
    boss = UserFactory(role=Role.SALES_REP, is_superuser=True)

    assert _create(boss).created_by == boss


def test_updating_changes_url_events_and_active_but_keeps_the_secret(mara):
    endpoint = WebhookEndpointFactory(events=BOTH)
    secret = endpoint.secret

    webhook_endpoint_update(
        actor=mara,
        endpoint_id=endpoint.pk,
        name="HubSpot",
        url="http://hooks.internal:8080/leadloop",
        events=["lead.stage_changed"],
        is_active=False,
    )

    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.url, endpoint.events, endpoint.is_active, endpoint.secret) == (
        "HubSpot",
        "http://hooks.internal:8080/leadloop",
        ["lead.stage_changed"],
        False,
        secret,
    )


def test_an_invalid_update_changes_nothing(mara):
    endpoint = WebhookEndpointFactory(url="https://crm.example.com/hooks")

    with pytest.raises(WebhookEndpointInvalid):
        webhook_endpoint_update(
            actor=mara, endpoint_id=endpoint.pk, name="x", url="nope", events=BOTH, is_active=True
        )

    endpoint.refresh_from_db()
    assert endpoint.url == "https://crm.example.com/hooks"


def test_rotating_gives_a_new_secret(mara):
    endpoint = WebhookEndpointFactory()
    old = endpoint.secret

    rotated = webhook_secret_rotate(actor=mara, endpoint_id=endpoint.pk)

    endpoint.refresh_from_db()
    assert endpoint.secret == rotated.secret != old


def test_deleting_an_endpoint_deletes_its_log(mara):
    endpoint = WebhookEndpointFactory()
    WebhookDelivery.objects.create(endpoint=endpoint, event="lead.assigned", payload={})

    webhook_endpoint_delete(actor=mara, endpoint_id=endpoint.pk)

    assert (WebhookEndpoint.objects.count(), WebhookDelivery.objects.count()) == (0, 0)


def test_a_missing_endpoint_is_not_found(mara):
    with pytest.raises(NotFound, match=r"^Webhook endpoint 404 does not exist\.$"):
        webhook_secret_rotate(actor=mara, endpoint_id=404)

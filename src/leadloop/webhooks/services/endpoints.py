"""Webhook endpoints: made, changed, deleted and their secrets rotated by a manager."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import urlsplit

from django.db import transaction

from leadloop.accounts.models import User
from leadloop.common.errors import LeadloopError, PermissionDenied
from leadloop.webhooks.models import WebhookEndpoint, WebhookEvent
from leadloop.webhooks.selectors import can_manage_webhooks, webhook_endpoint_get
from leadloop.webhooks.services.emit import endpoints_changed, enqueue_sweep

# The events an endpoint can subscribe to; the test event is only sent on demand.
SUBSCRIBABLE_EVENTS: Final = (WebhookEvent.STAGE_CHANGED, WebhookEvent.LEAD_ASSIGNED)


NAME_MAX: Final = WebhookEndpoint._meta.get_field("name").max_length or 100


URL_MAX: Final = WebhookEndpoint._meta.get_field("url").max_length or 500


class WebhookEndpointInvalid(LeadloopError):
    """An endpoint with one or more problems; ``errors`` has each with its ``loc``."""

    code = "webhook_endpoint_invalid"

    def __init__(self, errors: Sequence[tuple[tuple[str | int, ...], str]]) -> None:
        first_loc, _ = errors[0]
        super().__init__("; ".join(msg for _, msg in errors), loc=first_loc)
        self.errors = list(errors)


def require_manager(actor: User) -> None:
    if not can_manage_webhooks(actor):
        raise PermissionDenied("Only admins and marketing ops can manage webhooks.")


def _url_problem(url: str) -> str | None:
    if not url:
        return "URL: enter the address that receives the events, e.g. https://crm.example.com/hooks/leadloop."
    if len(url) > URL_MAX:
        return f"URL: at most {URL_MAX} characters (this one has {len(url)})."
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"URL: {url!r} must start with http:// or https://."
    if any(c.isspace() for c in url):
        return f"URL: {url!r} contains a space."
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
    except ValueError:
        return f"URL: {url!r} has an invalid port."
    if not parts.hostname:
        return f"URL: {url!r} has no host name."
    return None


def _clean(*, name: str, url: str, events: Iterable[str]) -> tuple[str, str, list[str]]:
    """The stripped values, or WebhookEndpointInvalid naming every field that is wrong."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    name, url = name.strip(), url.strip()
    if not name:
        errors.append((("name",), "Name: give the endpoint a name, e.g. the receiving system."))
    elif len(name) > NAME_MAX:
        errors.append((("name",), f"Name: at most {NAME_MAX} characters."))
    problem = _url_problem(url)
    if problem:
        errors.append((("url",), problem))
    known = {e.value for e in SUBSCRIBABLE_EVENTS}
    chosen = list(dict.fromkeys(str(e) for e in events))
    for i, value in enumerate(chosen):
        if value not in known:
            errors.append(
                (
                    ("events", i),
                    f"Events: {value!r} is not an event Leadloop sends "
                    f"(known: {', '.join(sorted(known))}).",
                )
            )
    if not chosen:
        errors.append((("events",), "Events: choose at least one event to send."))
    if errors:
        raise WebhookEndpointInvalid(errors)
    return name, url, [e.value for e in SUBSCRIBABLE_EVENTS if e.value in chosen]


def webhook_endpoint_create(
    *, actor: User, name: str, url: str, events: Iterable[str], is_active: bool = True
) -> WebhookEndpoint:
    """A new endpoint with a fresh secret. Raises WebhookEndpointInvalid, PermissionDenied."""
    require_manager(actor)
    name, url, chosen = _clean(name=name, url=url, events=events)
    endpoints_changed()
    return WebhookEndpoint.objects.create(
        name=name, url=url, events=chosen, is_active=is_active, created_by=actor
    )


@transaction.atomic
def webhook_endpoint_update(
    *,
    actor: User,
    endpoint_id: int,
    name: str,
    url: str,
    events: Iterable[str],
    is_active: bool,
) -> WebhookEndpoint:
    """Change an endpoint; deliveries already created keep going to it (at its new URL).
    Raises WebhookEndpointInvalid, NotFound, PermissionDenied."""
    require_manager(actor)
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    switched_on = is_active and not endpoint.is_active
    endpoint.name, endpoint.url, endpoint.events = _clean(name=name, url=url, events=events)
    endpoint.is_active = is_active
    endpoint.save(update_fields=["name", "url", "events", "is_active"])
    endpoints_changed()
    if switched_on:  # what waited while it was off is due now
        transaction.on_commit(enqueue_sweep, robust=True)
    return endpoint


def webhook_endpoint_delete(*, actor: User, endpoint_id: int) -> None:
    """Delete an endpoint with its delivery log. Raises NotFound, PermissionDenied."""
    require_manager(actor)
    webhook_endpoint_get(endpoint_id=endpoint_id).delete()
    endpoints_changed()


def webhook_secret_rotate(*, actor: User, endpoint_id: int) -> WebhookEndpoint:
    """Give the endpoint a new secret; every attempt from now on (retries too) is signed with
    it. Raises NotFound, PermissionDenied."""
    require_manager(actor)
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    endpoint.secret = WebhookEndpoint._meta.get_field("secret").get_default()
    endpoint.save(update_fields=["secret"])
    return endpoint

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from leadloop.accounts.models import ApiToken
from leadloop.accounts.services import SCOPES, token_authenticate, token_create
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = StringIO()
    call_command("token", *args, stdout=out)
    return out.getvalue()


def test_create_prints_a_working_key_once() -> None:
    user = UserFactory(username="ops")

    output = _run("create", "ops", "--name", "CRM sync", "--scope", "leads:read")

    key = output.strip().splitlines()[-1]
    token = ApiToken.objects.get()
    assert f"Created token {token.pk} 'CRM sync' for ops with scopes: leads:read." in output
    assert token_authenticate(key=key) == token
    assert (token.user, token.scopes) == (user, ["leads:read"])


def test_create_stores_the_key_only_as_a_hash() -> None:
    UserFactory(username="ops")

    key = _run("create", "ops").strip().splitlines()[-1]

    stored = ApiToken.objects.values().get()
    assert stored["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert all(key not in str(value) for value in stored.values())


def test_create_takes_several_scopes_and_defaults_to_all() -> None:
    UserFactory(username="ops")

    _run("create", "ops", "--name", "two", "--scope", "leads:read", "--scope", "reports:read")
    _run("create", "ops", "--name", "all")

    assert ApiToken.objects.get(name="two").scopes == ["leads:read", "reports:read"]
    assert ApiToken.objects.get(name="all").scopes == list(SCOPES)


def test_create_refuses_an_unknown_scope() -> None:
    UserFactory(username="ops")

    with pytest.raises(CommandError, match="invalid choice: 'leads:delete'"):
        _run("create", "ops", "--scope", "leads:delete")

    assert ApiToken.objects.count() == 0


def test_create_names_an_unknown_user() -> None:
    with pytest.raises(CommandError, match=r"No user named 'ghost'\."):
        _run("create", "ghost")


def test_list_shows_tokens_without_their_keys() -> None:
    user = UserFactory(username="ops")
    issued = token_create(user=user, name="CRM sync", scopes=["leads:read"])

    output = _run("list", "ops")

    assert f"{issued.token.pk}\tll_{issued.token.prefix}_…\tCRM sync\tleads:read\t" in output
    assert "last used never\tactive" in output
    assert issued.key not in output


def test_list_says_when_a_user_has_no_tokens() -> None:
    UserFactory(username="ops")

    assert _run("list", "ops") == "ops has no API tokens.\n"


def test_revoke_makes_the_key_stop_working() -> None:
    issued = token_create(user=UserFactory(username="ops"), name="CRM sync")

    output = _run("revoke", str(issued.token.pk))

    assert output.startswith(f"Revoked token {issued.token.pk} 'CRM sync' of ops at ")
    assert token_authenticate(key=issued.key) is None


def test_revoke_names_an_unknown_id() -> None:
    with pytest.raises(CommandError, match=r"No API token with id 999\."):
        _run("revoke", "999")


def test_a_created_key_opens_the_api(client) -> None:
    UserFactory(username="ops")
    key = _run("create", "ops", "--scope", "leads:read").strip().splitlines()[-1]

    response = client.get("/api/v1/leads", headers={"Authorization": f"Bearer {key}"})

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}

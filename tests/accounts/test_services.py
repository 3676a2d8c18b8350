from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from leadloop.accounts.models import ApiToken, User
from leadloop.accounts.services import (
    SCOPES,
    TokenScopeUnknown,
    token_authenticate,
    token_create,
    token_revoke,
)
from leadloop.common.errors import NotFound
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_new_token_stores_only_the_hash_of_its_key() -> None:
    issued = token_create(user=UserFactory(), name="CRM sync", scopes=["leads:read"])

    token = ApiToken.objects.get()
    assert issued.key.startswith(f"ll_{token.prefix}_")
    assert token.key_hash == hashlib.sha256(issued.key.encode()).hexdigest()
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert all(issued.key not in str(value) for value in stored.values())
    assert (token.name, token.scopes) == ("CRM sync", ["leads:read"])


def test_a_token_gets_every_scope_when_none_are_named() -> None:
    issued = token_create(user=UserFactory(), name="")

    assert issued.token.scopes == list(SCOPES)
    assert issued.token.name == "API token"


def test_an_unknown_scope_is_refused_naming_it() -> None:
    with pytest.raises(TokenScopeUnknown, match="Unknown scope 'leads:delete'") as info:
        token_create(user=UserFactory(), name="x", scopes=["leads:read", "leads:delete"])

    assert info.value.loc == ("scopes",)
    assert ApiToken.objects.count() == 0


def test_a_key_authenticates_as_its_token_and_user() -> None:
    user = UserFactory()
    issued = token_create(user=user, name="ci")

    token = token_authenticate(key=issued.key)

    assert token == issued.token
    assert token is not None
    assert token.user == user


@pytest.mark.parametrize("key", ["", "nope", "ll_", "ll_0000_secret", "Bearer ll_x"])
def test_an_unknown_key_does_not_authenticate(key: str) -> None:
    token_create(user=UserFactory(), name="ci")

    assert token_authenticate(key=key) is None


def test_a_revoked_key_does_not_authenticate() -> None:
    user = UserFactory()
    issued = token_create(user=user, name="ci")
    token_revoke(user=user, token_id=issued.token.pk)

    assert token_authenticate(key=issued.key) is None


def test_the_key_of_a_deactivated_user_does_not_authenticate() -> None:
    user = UserFactory()
    issued = token_create(user=user, name="ci")
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert token_authenticate(key=issued.key) is None


def test_authenticating_records_the_last_use_at_most_once_a_minute(time_machine) -> None:
    time_machine.move_to(T0, tick=False)
    issued = token_create(user=UserFactory(), name="ci")

    token_authenticate(key=issued.key)
    time_machine.move_to(T0 + dt.timedelta(seconds=30), tick=False)
    token_authenticate(key=issued.key)
    first = ApiToken.objects.get().last_used_at
    time_machine.move_to(T0 + dt.timedelta(seconds=90), tick=False)
    token_authenticate(key=issued.key)

    assert first == T0
    assert ApiToken.objects.get().last_used_at == T0 + dt.timedelta(seconds=90)


def test_revoking_is_idempotent(time_machine) -> None:
    time_machine.move_to(T0, tick=False)
    user = UserFactory()
    issued = token_create(user=user, name="ci")
    token_revoke(user=user, token_id=issued.token.pk)
    time_machine.move_to(T0 + dt.timedelta(hours=1), tick=False)

    token = token_revoke(user=user, token_id=issued.token.pk)

    assert token.revoked_at == T0
    assert not token.is_active


def test_a_user_cannot_revoke_someone_elses_token() -> None:
    issued = token_create(user=UserFactory(), name="ci")

    with pytest.raises(NotFound, match=rf"No API token with id {issued.token.pk}\."):
        token_revoke(user=UserFactory(), token_id=issued.token.pk)

    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_a_superuser_can_revoke_anyones_token() -> None:
    issued = token_create(user=UserFactory(), name="ci")

    token_revoke(user=UserFactory(is_superuser=True), token_id=issued.token.pk)

    issued.token.refresh_from_db()
    assert issued.token.revoked_at is not None

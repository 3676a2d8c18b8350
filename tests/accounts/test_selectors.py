from __future__ import annotations

import pytest

from leadloop.accounts.models import Role
from leadloop.accounts.selectors import sales_people, token_list, token_owner
from leadloop.accounts.services import token_create, token_revoke
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_token_list_shows_active_tokens_before_revoked_ones_on_every_database():
    user = UserFactory()
    old = token_create(user=user, name="old").token
    revoked = token_create(user=user, name="revoked").token
    new = token_create(user=user, name="new").token
    token_revoke(user=user, token_id=revoked.pk)

    names = [t.name for t in token_list(user=user)]

    assert names == [new.name, old.name, revoked.name]


def test_token_owner_is_none_for_an_unknown_id():
    user = UserFactory()
    token = token_create(user=user, name="cli").token

    assert (token_owner(token_id=token.pk), token_owner(token_id=token.pk + 1000)) == (user, None)


def test_sales_people_are_active_reps_and_managers_only():
    rep = UserFactory(role=Role.SALES_REP)
    manager = UserFactory(role=Role.SALES_MANAGER)
    UserFactory(role=Role.MARKETING_OPS)
    UserFactory(role=Role.SALES_REP, is_active=False)

    assert set(sales_people()) == {rep, manager}

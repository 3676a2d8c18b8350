"""Fixtures of the API tests: a client, and a bearer header for a token with given scopes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ninja.testing import TestClient

from leadloop.accounts.services import token_create
from leadloop.api.main import api
from tests.accounts.factories import UserFactory

BearerFactory = Callable[..., dict[str, str]]


@pytest.fixture
def api_client() -> TestClient:
    return TestClient(api)


@pytest.fixture
def bearer(db: None) -> BearerFactory:
    """Headers carrying a fresh token: ``bearer()`` has every scope, ``bearer("reports:read")`` one."""

    def make(*scopes: str) -> dict[str, str]:
        issued = token_create(
            user=UserFactory(), name="test", scopes=list(scopes) if scopes else None
        )
        return {"Authorization": f"Bearer {issued.key}"}

    return make

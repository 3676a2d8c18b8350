"""Shared fixtures only."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip a test whose server or browser is missing here; in CI that is a failure.

    CI installs PostgreSQL, Redis and Chromium, so nothing may be silently skipped there.
    """
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service is a failure, not a skip)")
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # Hashing a factory user's password with the production hasher costs ~0.3 s each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _process_caches_clear() -> Iterator[None]:
    """Each test starts and ends with empty per-process caches: a cached row of one test's
    (rolled-back) transaction must not reach the next test; and no capture task was asked for
    by this process yet."""
    from leadloop.common.cache import process_caches_clear
    from leadloop.loop.intake import submissions_kick_reset

    process_caches_clear()
    submissions_kick_reset()
    yield
    process_caches_clear()

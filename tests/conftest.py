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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the database uses every database: on SQLite, form submissions and the
    task queue live in the queue file (``common.database.QueueRouter``), and whatever posts a
    form or enqueues a task reaches it. (pytest-django would give a test only "default".)"""
    for item in items:
        marker = item.get_closest_marker("django_db")
        names = getattr(item, "fixturenames", ())
        if marker is not None:
            if marker.args or "databases" in marker.kwargs:
                continue
            kwargs = dict(marker.kwargs)
        elif {"transactional_db", "live_server"} & set(names):
            kwargs = {"transaction": True}
        elif "db" in names:
            kwargs = {}
        else:
            continue
        item.add_marker(pytest.mark.django_db(**kwargs, databases="__all__"), append=False)


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

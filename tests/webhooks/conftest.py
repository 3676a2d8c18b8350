"""The webhook tests send to a real HTTP server: see tests/webhooks/receiver.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.webhooks.receiver import Receiver, refused_address, serving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as state:
        yield state


@pytest.fixture
def refused_url() -> str:
    return refused_address()

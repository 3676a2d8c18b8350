"""Leases: one holder at a time; a holder that stops renewing loses the lease at expiry."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from leadloop.common.lease import lease_acquire, lease_release

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=30)


def test_a_second_holder_waits_until_the_first_lets_the_lease_expire():
    with time_machine.travel(NOW, tick=False) as clock:
        assert lease_acquire(name="scheduler", holder="a", ttl=TTL)
        assert not lease_acquire(name="scheduler", holder="b", ttl=TTL)
        clock.move_to(NOW + dt.timedelta(seconds=20))
        assert lease_acquire(name="scheduler", holder="a", ttl=TTL)  # renewed to 10:00:50
        clock.move_to(NOW + dt.timedelta(seconds=45))
        assert not lease_acquire(name="scheduler", holder="b", ttl=TTL)

        clock.move_to(NOW + dt.timedelta(seconds=51))

        assert lease_acquire(name="scheduler", holder="b", ttl=TTL)
        assert not lease_acquire(name="scheduler", holder="a", ttl=TTL)


def test_a_released_lease_is_free_at_once():
    assert lease_acquire(name="scheduler", holder="a", ttl=TTL)

    lease_release(name="scheduler", holder="a")

    assert lease_acquire(name="scheduler", holder="b", ttl=TTL)


def test_releasing_someone_elses_lease_does_nothing():
    assert lease_acquire(name="scheduler", holder="a", ttl=TTL)

    lease_release(name="scheduler", holder="b")

    assert not lease_acquire(name="scheduler", holder="b", ttl=TTL)

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from leadloop.capture.models import Campaign, Touch
from leadloop.demo.generator import DemoDataExists, demo_generate, demo_reset, rows_digest_source
from leadloop.leads.models import Lead

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC)


def _digest() -> str:
    return hashlib.sha256(repr(list(rows_digest_source())).encode()).hexdigest()


def test_the_same_seed_makes_the_same_rows():
    demo_generate(leads=120, seed=5, now=NOW, batch_size=50)
    first = _digest()
    demo_reset()

    demo_generate(leads=120, seed=5, now=NOW, batch_size=50)

    assert _digest() == first


def test_another_seed_makes_other_rows():
    demo_generate(leads=120, seed=5, now=NOW)
    first = _digest()
    demo_reset()

    demo_generate(leads=120, seed=6, now=NOW)

    assert _digest() != first


def test_a_filled_database_is_refused():
    demo_generate(leads=10, seed=1, now=NOW)

    with pytest.raises(DemoDataExists, match="already has 10 leads"):
        demo_generate(leads=10, seed=1, now=NOW)


def test_reset_removes_the_demo_and_keeps_other_leads():
    demo_generate(leads=30, seed=1, now=NOW)
    Lead.objects.create(email="real@customer.example", created_at=timezone.now())

    deleted = demo_reset()

    assert deleted == 30
    assert list(Lead.objects.values_list("email", flat=True)) == ["real@customer.example"]
    assert (Touch.objects.count(), Campaign.objects.count()) == (0, 0)

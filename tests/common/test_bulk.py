"""``instances_insert`` stores exactly what ``bulk_create`` stores, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import models

from leadloop.common.bulk import instances_insert
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from tests.accounts.factories import UserFactory
from tests.leads.factories import CompanyFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def _leads(tag: str, company_id: int, owner_id: int) -> list[Lead]:
    """Leads with a value of every kind a column holds: text, an enum member, None, an aware
    time, a foreign key, JSON, a boolean, defaults, auto_now."""
    plain = Lead(email=f"{tag}-ada@analytical.example", first_name="Ada", created_at=AT)
    full = Lead(
        email=f"{tag}-grace@navy.example",
        external_id=f"{tag}-crm-7",
        first_name="Grace",
        last_name="Hopper — “Amazing”",
        country="US",
        company_id=company_id,
        owner_id=owner_id,
        stage=Stage.MQL,
        stage_changed_at=AT,
        cycle=3,
        mql_first_at=AT - timedelta(days=2),
        attributes={"employees": 250, "plan": "pro", "tags": ["a", "b"], "trial": True},
        consent_given=True,
        consent_text="ACME may e-mail me.",
        consent_at=AT,
        created_at=AT - timedelta(days=9),
    )
    bare = Lead(external_id=f"{tag}-crm-8", created_at=AT)  # no e-mail: NULL, not ""
    return [plain, full, bare]


def _stored(model: type[models.Model], pks: list[int]) -> list[dict[str, Any]]:
    rows = list(model.objects.filter(pk__in=pks).order_by("pk").values())
    for row in rows:
        row.pop("id")
        for key in ("email", "external_id"):
            if row.get(key):
                row[key] = row[key].split("-", 1)[1]
        row.pop("updated_at", None)  # auto_now: the moment of each insert
    return rows


def test_instances_insert_stores_what_bulk_create_stores():
    company, owner = CompanyFactory(), UserFactory()

    by_django = Lead.objects.bulk_create(_leads("a", company.pk, owner.pk))
    ours = instances_insert(_leads("b", company.pk, owner.pk))

    assert all(lead.pk and not lead._state.adding for lead in ours)
    assert _stored(Lead, [x.pk for x in ours]) == _stored(Lead, [x.pk for x in by_django])
    assert all(lead.updated_at is not None for lead in Lead.objects.all())
    changes = [
        StageChange(lead=lead, from_stage="", to_stage=Stage.LEAD, rule="capture", cycle=1, at=AT)
        for lead in ours
    ]
    instances_insert(changes)
    assert [c.lead_id for c in StageChange.objects.order_by("pk")] == [x.pk for x in ours]


def test_batches_within_the_parameter_limit_keep_keys_in_order():
    leads = [Lead(email=f"p{i}@bulk.example") for i in range(120)]

    instances_insert(leads, batch_size=7)

    stored = dict(Lead.objects.values_list("pk", "email"))
    assert [stored[lead.pk] for lead in leads] == [f"p{i}@bulk.example" for i in range(120)]


def test_it_refuses_a_row_that_exists():
    lead = Lead.objects.create(email="ada@analytical.example")
    with pytest.raises(ValueError, match=r"new leads\.Lead rows only: one has a pk"):
        instances_insert([Lead(email="bob@b.example"), lead])
    assert Lead.objects.count() == 1

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import transaction

from leadloop.accounts.models import User
from leadloop.capture.models import Campaign, Channel, Touch, TouchKind
from leadloop.common.errors import LeadloopError
from leadloop.leads.models import Company, Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.loop.ingest import (
    BATCH_MAX,
    BatchTooLarge,
    TouchSpec,
    attribution_resolve,
    touch_capture,
    touches_ingest,
)
from leadloop.loop.owners import marketing_queue
from tests.accounts.factories import UserFactory
from tests.capture.factories import CampaignFactory
from tests.content.factories import ContentOfferFactory
from tests.leads.factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _at(minutes: int) -> dt.datetime:
    return NOW - dt.timedelta(hours=3) + dt.timedelta(minutes=minutes)


def _spec(minutes: int = 0, **fields: Any) -> TouchSpec:
    url = fields.pop("landing_page", "")
    return TouchSpec(
        kind=fields.pop("kind", TouchKind.PAGE_VISIT),
        occurred_at=fields.pop("occurred_at", _at(minutes)),
        attribution=attribution_resolve(landing_page=url, referrer=fields.pop("referrer", "")),
        **fields,
    )


def _world() -> None:
    """Known leads that a batch finds, fills in or leaves alone."""
    CampaignFactory(slug="q2-crm", name="Q2 CRM", channel=Channel.PAID_SEARCH)
    ContentOfferFactory(slug="crm-guide")
    LeadFactory(email=None, external_id="crm-1", company=None, source="")
    LeadFactory(email="grace@navy.example", external_id=None, company=None, source="")
    LeadFactory(
        email="known@analytical.example",
        source="event",
        company=CompanyFactory(domain="known.example", name="Known"),
    )
    CompanyFactory(domain="analytical.example", name="Analytical")


def _scenario() -> list[TouchSpec]:
    ad = "https://acme.test/?utm_source=google&utm_medium=cpc&utm_campaign=q2-crm"
    return [
        _spec(0, email="ada@analytical.example", landing_page=ad),
        _spec(1, email="ada@analytical.example", external_id="t-1"),
        _spec(2, email="ADA@analytical.example", external_id="t-1"),  # duplicate in the batch
        _spec(3, lead_external_id="crm-1", referrer="https://www.linkedin.com/"),
        _spec(4, lead_external_id="crm-1", email="crm1@babbage.example"),  # fills in the e-mail
        _spec(
            5,
            email="crm1@babbage.example",
            kind=TouchKind.CONTENT_DOWNLOAD,
            content_offer="crm-guide",
        ),
        _spec(6, email="grace@navy.example", lead_external_id="crm-2"),  # fills in the id
        _spec(7, lead_external_id="crm-2", channel=Channel.EVENT),
        _spec(8, email="known@analytical.example", external_id="t-9"),
        _spec(9, email="new@gmail.com"),  # free mail: no company
        _spec(10, lead_external_id="only-id"),
        _spec(11, email="not an address"),
        _spec(12),  # no lead
        _spec(13, email="x@analytical.example", campaign="no-such-campaign"),
        _spec(14, email="known@analytical.example", occurred_at=NOW + dt.timedelta(hours=1)),
        _spec(15, email="bob@babbage.example", lead_external_id="crm-9"),
        _spec(16, email="bob@babbage.example", external_id="t-1"),  # t-1 belongs to Ada
    ]


def _rows() -> dict[str, Any]:
    """Every row a capture writes, without the ids that differ from run to run."""

    def who(lead: Lead) -> str:
        return lead.email or lead.external_id or ""

    leads = {
        who(lead): (
            lead.email,
            lead.external_id,
            lead.company.domain if lead.company else None,
            lead.stage,
            lead.stage_changed_at,
            lead.lead_first_at,
            lead.source,
            lead.source_detail,
        )
        for lead in Lead.objects.select_related("company")
    }
    touches = sorted(
        (
            who(t.lead),
            t.kind,
            t.channel,
            t.source,
            t.medium,
            t.utm_campaign,
            t.referrer,
            t.landing_page,
            t.campaign.slug if t.campaign else "",
            t.content_offer.slug if t.content_offer else "",
            t.occurred_at,
            "hash" if t.external_id.startswith("h:") else t.external_id,
        )
        for t in Touch.objects.select_related("lead", "campaign", "content_offer")
    )
    changes = sorted(
        (who(c.lead), c.from_stage, c.to_stage, c.actor_id, c.rule, c.at, c.cycle)
        for c in StageChange.objects.select_related("lead")
    )
    companies = sorted(Company.objects.values_list("domain", "name"))
    return {"leads": leads, "touches": touches, "changes": changes, "companies": companies}


def _one_by_one(specs: list[TouchSpec], actor: User) -> list[tuple[str, str]]:
    outcomes = []
    for spec in specs:
        try:
            with transaction.atomic():
                captured = touch_capture(spec=spec, actor=actor)
        except LeadloopError as exc:
            outcomes.append(("error", exc.code))
            continue
        outcomes.append(("created" if captured.touch_created else "duplicate", ""))
    return outcomes


def _in_a_batch(specs: list[TouchSpec], actor: User) -> list[tuple[str, str]]:
    results = touches_ingest(specs=specs, actor=actor)
    return [(r.status, r.errors[0].type if r.errors else "") for r in results]


def _run(path: Callable[[list[TouchSpec], User], list[tuple[str, str]]]) -> Any:
    for model in (Touch, StageChange, Lead, Company, Campaign):
        model.objects.all().delete()
    _world()
    actor = UserFactory(username="api")
    outcomes = path(_scenario(), actor)
    return outcomes, _rows()


def test_a_batch_writes_the_same_rows_as_capturing_one_touch_at_a_time() -> None:
    single_outcomes, single_rows = _run(_one_by_one)

    batch_outcomes, batch_rows = _run(_in_a_batch)

    assert batch_outcomes == single_outcomes
    assert batch_rows == single_rows
    assert [s for s, _ in batch_outcomes].count("created") == 11  # the scenario is not trivial


def test_the_item_by_item_fallback_writes_the_same_rows_too() -> None:
    single = _run(_one_by_one)
    ahead = _spec(email="early@babbage.example", occurred_at=NOW + dt.timedelta(minutes=2))

    # A new lead entering ahead of the server's clock (within the skew) cannot go through the
    # bulk history loader: the batch is then captured item by item.
    fallback = _run(lambda specs, actor: _in_a_batch([*specs, ahead], actor)[:-1])

    assert fallback[0] == single[0]
    assert fallback[1]["leads"].pop("early@babbage.example")[3] == Stage.LEAD
    fallback[1]["touches"] = [t for t in fallback[1]["touches"] if t[0] != "early@babbage.example"]
    fallback[1]["changes"] = [c for c in fallback[1]["changes"] if c[0] != "early@babbage.example"]
    assert fallback[1] == single[1]


def test_new_leads_enter_the_lifecycle_at_their_first_touch_with_one_stage_change() -> None:
    actor = UserFactory()

    touches_ingest(
        specs=[_spec(5, email="ada@analytical.example"), _spec(1, email="ada@analytical.example")],
        actor=actor,
    )

    lead = Lead.objects.get()
    change = StageChange.objects.get()
    assert (lead.stage, lead.lead_first_at, lead.company.domain) == (
        Stage.LEAD,
        _at(5),
        "analytical.example",
    )
    assert (change.from_stage, change.to_stage, change.actor, change.rule, change.at) == (
        "",
        Stage.LEAD,
        actor,
        "",
        _at(5),
    )
    assert Touch.objects.count() == 2


def test_the_first_created_touch_sets_the_source_and_later_ones_do_not() -> None:
    touches_ingest(
        specs=[
            _spec(0, email="ada@analytical.example", referrer="https://www.google.com/"),
            _spec(1, email="ada@analytical.example", referrer="https://www.linkedin.com/"),
        ],
        actor=None,
    )

    lead = Lead.objects.get()
    assert (lead.source, lead.source_detail) == (Channel.ORGANIC_SEARCH, "google")


def test_a_batch_sent_again_writes_nothing_new_and_answers_duplicates() -> None:
    specs = [_spec(i, email=f"p{i % 3}@analytical.example") for i in range(9)]
    first = touches_ingest(specs=specs, actor=None)

    again = touches_ingest(specs=specs, actor=None)

    assert {r.status for r in again} == {"duplicate"}
    assert [r.touch_id for r in again] == [r.touch_id for r in first]
    assert (Lead.objects.count(), Touch.objects.count(), StageChange.objects.count()) == (3, 9, 3)


def test_a_batch_resolves_its_leads_and_touches_in_a_fixed_number_of_queries(
    django_assert_max_num_queries: Any,
) -> None:
    LeadFactory.create_batch(5)
    marketing_queue()  # the agreement in force and its queue, made on first use, then read
    marketing_queue()  # and kept in this process's cache, as in a running installation
    specs = [_spec(i % 60, email=f"p{i % 50}@c{i % 50 % 7}.example") for i in range(300)]

    # +1: scoring looks up the active rule sets; +1: the webhook endpoints (then cached).
    with django_assert_max_num_queries(22):
        results = touches_ingest(specs=specs, actor=None)

    assert {r.status for r in results} == {"created"}
    assert (Lead.objects.count(), Touch.objects.count()) == (55, 300)


def test_a_batch_larger_than_the_maximum_is_refused() -> None:
    specs = [_spec(email="ada@analytical.example")] * (BATCH_MAX + 1)

    with pytest.raises(BatchTooLarge, match="at most 1000 items; this one has 1001"):
        touches_ingest(specs=specs, actor=None)

    assert Lead.objects.count() == 0


def test_explicit_utm_values_win_one_by_one_over_the_landing_page() -> None:
    attribution = attribution_resolve(
        landing_page="https://acme.test/?utm_source=google&utm_medium=cpc&utm_campaign=q2"
        "&utm_term=crm",
        campaign="may",
    )

    assert (attribution.source, attribution.medium, attribution.campaign, attribution.term) == (
        "google",
        "cpc",
        "may",
        "crm",
    )
    assert attribution.channel == Channel.PAID_SEARCH

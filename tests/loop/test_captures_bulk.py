"""Captures in bulk (``loop.ingest.captures_ingest``, how a worker captures form submissions)
leave the database as ``lead_capture`` one by one would: leads with their fields, companies,
consent and attributes, lifecycle entries, touches, first-touch sources and scores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction

from leadloop.capture.attribution import attribution_parse
from leadloop.capture.models import Touch
from leadloop.capture.services import TouchInput
from leadloop.leads.models import Company, Lead
from leadloop.leads.services import LeadData
from leadloop.lifecycle.models import StageChange
from leadloop.loop.ingest import captures_ingest
from leadloop.loop.services import lead_capture
from leadloop.scoring.defaults import scoring_defaults_install
from leadloop.scoring.models import LeadScore
from tests.leads.factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
PAGE = "https://www.acme.test/pricing?utm_source=linkedin&utm_medium=paid_social&utm_campaign=x"


def _touch(minutes: int, key: str, page: str = PAGE) -> TouchInput:
    return TouchInput(
        kind="form_fill",
        occurred_at=T0 + dt.timedelta(minutes=minutes),
        attribution=attribution_parse(landing_page=page, referrer="https://www.linkedin.com/"),
        properties={"form": "demo", "fields": {"message": key}},
        external_id=f"f:1:{key}",
    )


def _captures() -> list[tuple[LeadData, TouchInput]]:
    consent_at = T0 + dt.timedelta(minutes=1)
    ada = LeadData(
        email="Ada@Analytical.example",
        first_name="Ada",
        company_name="Analytical Engines",
        attributes={"team_size": "11-50"},
        consent_text="ACME may e-mail me.",
        consent_at=consent_at,
    )
    return [
        (ada, _touch(1, "a1")),
        (
            LeadData(
                email="bob@gmail.com",
                company_name="Bob's",
                phone="+49 30 1",
                title="VP Marketing",
                seniority="vp",
                country="US",
            ),
            _touch(2, "b1"),
        ),
        (LeadData(email="ada@analytical.example", last_name="Lovelace"), _touch(3, "a2", "")),
        (LeadData(email="known@initech.example", first_name="Kim"), _touch(4, "k1")),
        (
            LeadData(email="cy@gmail.com", company_domain="https://www.globex.example/about"),
            _touch(5, "c1"),
        ),
        (ada, _touch(1, "a1")),  # a repeat of the first: one touch
        (LeadData(email="dee@acme.example", company_name="ACME Corp"), _touch(6, "d1")),
        (LeadData(email="eve@acme.example", company_name="Not ACME"), _touch(7, "e1")),
        (LeadData(email="pat@gmail.com", seniority="director"), _touch(8, "p2")),
    ]


def _state() -> dict[str, Any]:
    leads = {
        lead.email: (
            lead.first_name,
            lead.last_name,
            lead.phone,
            lead.company.domain if lead.company else None,
            lead.attributes,
            (lead.consent_given, lead.consent_text, lead.consent_at),
            lead.stage,
            lead.stage_changed_at,
            (lead.source, lead.source_detail),
            lead.queue_id,
        )
        for lead in Lead.objects.select_related("company")
    }
    return {
        "leads": leads,
        "companies": sorted(Company.objects.values_list("domain", "name")),
        "touches": sorted(
            (t.lead.email, t.kind, t.external_id, t.source, t.channel, t.occurred_at)
            for t in Touch.objects.select_related("lead")
        ),
        "changes": sorted(
            (c.lead.email, c.from_stage, c.to_stage, c.rule, c.at)
            for c in StageChange.objects.select_related("lead")
        ),
        "scores": sorted(
            (s.lead.email, s.fit_score, s.fit_grade, round(s.engagement_sum, 6), s.last_touch_at)
            for s in LeadScore.objects.select_related("lead")
        ),
    }


class _Rollback(Exception):
    pass


def test_bulk_captures_match_one_by_one():
    scoring_defaults_install()
    CompanyFactory(domain="acme.example", name="acme.example")  # known, no name yet
    LeadFactory(email="known@initech.example", first_name="", company=None)
    lead_capture(data=LeadData(email="pat@gmail.com"), touch=_touch(0, "p1"), rule="api")

    try:
        with transaction.atomic():
            results = captures_ingest(captures=_captures(), rule="form demo")
            bulk = _state()
            raise _Rollback
    except _Rollback:
        pass
    for data, touch in _captures():
        lead_capture(data=data, touch=touch, rule="form demo")
    one_by_one = _state()

    assert [r.status for r in results] == ["created"] * 5 + ["duplicate"] + ["created"] * 3
    assert bulk == one_by_one
    assert ("acme.example", "ACME Corp") in one_by_one["companies"]
    assert ("globex.example", "globex.example") in one_by_one["companies"]
    assert one_by_one["leads"]["ada@analytical.example"][:2] == ("Ada", "Lovelace")


def test_a_conflicting_capture_is_answered_with_its_error_and_the_others_are_captured():
    LeadFactory(email="ada@analytical.example", external_id=None)
    LeadFactory(email="other@x.example", external_id="crm-7")

    results = captures_ingest(
        captures=[
            (LeadData(email="ada@analytical.example", external_id="crm-7"), _touch(1, "a")),
            (LeadData(email="bob@b.example", first_name="Bob"), _touch(2, "b")),
        ],
        rule="form demo",
    )

    assert [r.status for r in results] == ["error", "created"]
    assert results[0].errors[0].type == "lead_identity_conflict"
    assert Lead.objects.get(email="bob@b.example").first_name == "Bob"

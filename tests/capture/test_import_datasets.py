"""Every real dataset under ../shared/data imports with its mapping, with the known counts."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Count

from leadloop.capture.models import ImportStatus
from leadloop.leads.models import AttributeDefinition, Lead, Stage
from leadloop.lifecycle.models import StageChange
from tests.capture.import_support import dataset, run_import

pytestmark = pytest.mark.django_db

OLIST_MQLS = "olist_marketing_funnel/olist_marketing_qualified_leads_dataset.csv"
OLIST_DEALS = "olist_marketing_funnel/olist_closed_deals_dataset.csv"


def _stages() -> Counter[str]:
    return Counter(dict(Lead.objects.values_list("stage").annotate(n=Count("id"))))


def test_olist_mqls_import_as_mqls_with_their_origin():
    path = dataset(OLIST_MQLS)

    job = run_import(path, "olist_mqls")

    assert (job.status, job.rows_done, job.created, job.updated, job.rejected) == (
        ImportStatus.DONE, 6415, 6415, 0, 0)  # fmt: skip
    assert _stages() == {Stage.MQL: 6415}
    assert Lead.objects.filter(source="organic_search").count() == 1873
    assert Lead.objects.filter(source="").count() == 42
    lead = Lead.objects.get(external_id="dac32acd4db4c29c230538b72f8dd87d")
    assert lead.mql_first_at.isoformat() == "2018-02-01T00:00:00+00:00"
    assert lead.created_at == lead.mql_first_at
    assert lead.cycle == 1
    assert lead.attributes == {"landing_page_id": "88740e65d5d6b056e0cda098e1ea6313"}


def test_olist_closed_deals_update_their_mqls_as_won():
    run_import(dataset(OLIST_MQLS), "olist_mqls")

    job = run_import(dataset(OLIST_DEALS), "olist_closed_deals", update_only=True)

    assert (job.rows_done, job.created, job.updated, job.rejected) == (690, 0, 690, 0)
    assert _stages() == {Stage.MQL: 6415 - 690, Stage.CUSTOMER: 690}
    assert Lead.objects.filter(customer_first_at__isnull=False).count() == 690
    won = Lead.objects.get(external_id="5420aad7fec3549a85876ba1c529bd84")
    assert won.customer_first_at.isoformat() == "2018-02-26T19:58:54+00:00"
    assert won.attributes["business_segment"] == "pet"
    assert won.attributes["declared_monthly_revenue"] == 0
    segment = AttributeDefinition.objects.get(key="business_segment")
    assert (segment.type, "pet" in segment.choices) == ("category", True)


def test_olist_closed_deals_without_their_mqls_are_all_rejected_with_update_only():
    job = run_import(dataset(OLIST_DEALS), "olist_closed_deals", update_only=True)

    assert (job.created, job.rejected) == (0, 690)
    first = job.rejections.first()
    assert (first.row_number, first.column, first.value) == (
        1, "mql_id", "5420aad7fec3549a85876ba1c529bd84")  # fmt: skip
    assert "no lead with this e-mail or external id to update" in first.reason
    assert Lead.objects.count() == 0


def test_uci_bank_clients_import_with_row_numbers_and_their_outcome():
    path = dataset("uci_bank_marketing/bank-additional-full.csv")

    job = run_import(path, "uci_bank", batch_rows=5000)

    assert (job.rows_done, job.created, job.rejected) == (32950, 32950, 0)
    assert _stages() == {Stage.CUSTOMER: 2100, Stage.NURTURE: 30850}
    first = Lead.objects.get(external_id="uci-bank-1")
    assert first.attributes == {
        "age": 56, "job": "housemaid", "contact": "telephone", "campaign_contacts": 1,
        "poutcome": "nonexistent",
    }  # fmt: skip
    assert Lead.objects.get(external_id="uci-bank-32950").stage == Stage.NURTURE
    assert StageChange.objects.filter(to_stage=Stage.NURTURE, reason="not_interested").count() == (
        30850
    )
    assert not Lead.objects.filter(attributes__job="unknown").exists()  # "unknown" → empty


def test_x_education_leads_import_with_select_as_empty_and_converted_as_won():
    path = dataset("x_education_leads/Leads.csv")

    job = run_import(path, "x_education")

    assert (job.rows_done, job.created, job.rejected) == (7392, 7392, 0)
    assert Lead.objects.filter(stage=Stage.CUSTOMER).count() == 2846
    assert Lead.objects.filter(country="IN").count() == 5208
    assert Lead.objects.filter(country="RU").count() == 1
    assert not Lead.objects.filter(attributes__specialization="Select").exists()
    assert Lead.objects.filter(attributes__has_key="specialization").count() > 0
    lead = Lead.objects.get(external_id="7927b2df-8bba-4d29-b9a2-b6e0beafe620")
    assert lead.source == "Olark Chat"
    assert lead.attributes["do_not_email"] is False
    assert "city" not in lead.attributes  # "Select"


def test_zoho_leads_import_their_status_as_stages_and_reasons():
    path = dataset("zoho_crm_demo_leads/Leads.csv")

    job = run_import(path, "zoho")

    # 1,009 rows but only 92 distinct e-mails: a lead is one person, so rows merge.
    assert (job.rows_done, job.created, job.updated, job.rejected) == (1009, 92, 917, 0)
    assert Lead.objects.count() == 92
    assert StageChange.objects.filter(to_stage=Stage.DISQUALIFIED, reason="spam").exists()
    assert not StageChange.objects.filter(to_stage=Stage.DISQUALIFIED, reason="").exists()
    paula = Lead.objects.get(email="paula@samplecompany.com")
    assert (paula.last_name, paula.company.domain) == ("Paula", "samplecompany.com")
    assert paula.external_id == "2017"
    assert paula.created_at.isoformat() == "2012-01-03T00:00:00+00:00"


def test_reimporting_a_dataset_adds_no_lead_and_no_stage_change():
    path = dataset("zoho_crm_demo_leads/Leads.csv")
    run_import(path, "zoho")
    before = (Lead.objects.count(), StageChange.objects.count())

    job = run_import(path, "zoho")

    assert (job.created, job.updated, job.rejected) == (0, 1009, 0)
    assert (Lead.objects.count(), StageChange.objects.count()) == before

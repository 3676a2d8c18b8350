from __future__ import annotations

import datetime as dt

import pytest

from leadloop.capture.attribution import attribution_parse
from leadloop.capture.models import Channel, Touch, TouchKind
from leadloop.capture.services import TouchInput
from leadloop.leads.models import Company, Lead, Stage
from leadloop.leads.services import (
    LeadData,
    LeadIdentityConflict,
    LeadIdentityMissing,
    LeadNotFoundForUpdate,
)
from leadloop.lifecycle.models import StageChange
from leadloop.loop.services import lead_capture
from tests.capture.factories import CampaignFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)


def _visit(**kwargs: object) -> TouchInput:
    return TouchInput(
        kind=TouchKind.FORM_FILL,
        occurred_at=AT,
        attribution=attribution_parse(
            landing_page="https://acme.test/?utm_source=google&utm_medium=cpc&utm_campaign=q2-crm"
        ),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_new_lead_enters_the_lifecycle_with_its_first_touch_and_source():
    campaign = CampaignFactory(slug="q2-crm", name="Q2 CRM search", channel=Channel.PAID_SEARCH)

    captured = lead_capture(
        data=LeadData(
            email=" Ada@Analytical.example ", first_name="Ada", company_name="Analytical"
        ),
        touch=_visit(),
    )

    lead = Lead.objects.get()
    assert (lead.email, lead.first_name, lead.company.domain, lead.company.name) == (
        "ada@analytical.example",
        "Ada",
        "analytical.example",
        "Analytical",
    )
    assert (lead.stage, lead.lead_first_at, lead.source, lead.source_detail) == (
        Stage.LEAD,
        AT,
        Channel.PAID_SEARCH,
        "Q2 CRM search",
    )
    change = StageChange.objects.get()
    assert (change.from_stage, change.to_stage, change.rule, change.at) == (
        "",
        Stage.LEAD,
        "capture",
        AT,
    )
    assert captured.touch is not None
    assert captured.touch.campaign == campaign


def test_capturing_the_same_lead_and_touch_again_writes_nothing_new():
    lead_capture(data=LeadData(email="ada@analytical.example"), touch=_visit())

    again = lead_capture(data=LeadData(email="ADA@analytical.example"), touch=_visit())

    assert (again.lead_created, again.touch_created, again.changed) == (False, False, ())
    assert (Lead.objects.count(), Touch.objects.count(), StageChange.objects.count()) == (1, 1, 1)


def test_empty_values_never_erase_what_is_known():
    lead_capture(
        data=LeadData(email="ada@analytical.example", title="CTO", attributes={"plan": "pro"})
    )

    captured = lead_capture(
        data=LeadData(email="ada@analytical.example", phone="+49 30 1234", attributes={"seats": 5})
    )

    lead = Lead.objects.get()
    assert captured.changed == ("phone", "attributes")
    assert (lead.title, lead.phone, lead.attributes) == (
        "CTO",
        "+49 30 1234",
        {"plan": "pro", "seats": 5},
    )


def test_a_free_mail_address_makes_no_company():
    lead_capture(data=LeadData(email="ada.lovelace@gmail.com"))

    assert (Lead.objects.get().company, Company.objects.count()) == (None, 0)


def test_a_lead_without_email_is_found_by_external_id():
    lead_capture(data=LeadData(external_id="crm-42", first_name="Ada"))

    captured = lead_capture(data=LeadData(external_id="crm-42", email="ada@analytical.example"))

    assert captured.lead_created is False
    assert Lead.objects.get().email == "ada@analytical.example"


def test_a_lead_needs_an_identity():
    with pytest.raises(LeadIdentityMissing, match="needs an e-mail or an external id"):
        lead_capture(data=LeadData(first_name="Ada"))


def test_update_only_refuses_a_new_lead():
    with pytest.raises(
        LeadNotFoundForUpdate, match=r"No lead with e-mail 'ada@analytical\.example'"
    ):
        lead_capture(data=LeadData(email="ada@analytical.example"), update_only=True)

    assert Lead.objects.count() == 0


def test_an_email_and_an_external_id_of_two_different_leads_is_a_conflict():
    lead_capture(data=LeadData(email="ada@analytical.example"))
    lead_capture(data=LeadData(external_id="crm-42"))

    with pytest.raises(LeadIdentityConflict, match="merge the two leads first") as caught:
        lead_capture(data=LeadData(email="ada@analytical.example", external_id="crm-42"))

    assert caught.value.loc == ("external_id",)
    assert Lead.objects.get(email="ada@analytical.example").external_id is None

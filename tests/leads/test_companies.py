from __future__ import annotations

import pytest

from leadloop.leads.models import Company
from leadloop.leads.services import (
    LeadData,
    company_resolve,
    domain_normalize,
    is_free_mail,
    lead_upsert,
)


@pytest.mark.parametrize(
    ("value", "domain"),
    [
        ("acme.example", "acme.example"),
        ("  ACME.Example. ", "acme.example"),
        ("https://www.acme.example/pricing?x=1", "acme.example"),
        ("http://acme.example:8080/", "acme.example"),
        ("www.acme.example", "acme.example"),
        ("shop.acme.example", "shop.acme.example"),
        ("Ada.Lovelace@ACME.example", "acme.example"),
        ("ada@www.acme.example", "acme.example"),
        ("", ""),
    ],
)
def test_a_domain_is_read_from_a_url_an_email_or_a_bare_domain(value, domain):
    assert domain_normalize(value) == domain


@pytest.mark.parametrize("domain", ["gmail.com", "GMAIL.com", "web.de", "ada@yahoo.com"])
def test_free_mail_providers_are_recognised(domain):
    assert is_free_mail(domain)


def test_a_company_domain_is_not_free_mail():
    assert not is_free_mail("acme.example")


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["ada@gmail.com", "Ada@GMail.com", "ada@web.de"])
def test_a_free_mail_address_never_creates_a_company(email):
    assert company_resolve(email=email) is None
    assert company_resolve(domain=email.split("@")[1]) is None
    assert Company.objects.count() == 0


@pytest.mark.django_db
def test_a_value_without_a_usable_domain_makes_no_company():
    assert company_resolve(domain="localhost") is None
    assert company_resolve() is None
    assert Company.objects.count() == 0


@pytest.mark.django_db
def test_two_leads_at_the_same_domain_share_one_company():
    ada = lead_upsert(data=LeadData(email="ada@acme.example")).lead
    grace = lead_upsert(data=LeadData(email="Grace@WWW.Acme.Example")).lead

    assert ada.company is not None
    assert ada.company_id == grace.company_id
    assert Company.objects.get().domain == "acme.example"


@pytest.mark.django_db
def test_the_company_website_wins_over_the_email_domain():
    lead = lead_upsert(
        data=LeadData(email="ada@gmail.com", company_domain="https://www.acme.example/")
    ).lead

    assert lead.company is not None
    assert lead.company.domain == "acme.example"


@pytest.mark.django_db
def test_a_name_fills_in_a_company_known_only_by_domain():
    company_resolve(domain="acme.example")

    company = company_resolve(domain="acme.example", name="Acme Ltd")

    assert company is not None
    assert (company.name, Company.objects.count()) == ("Acme Ltd", 1)


@pytest.mark.django_db
def test_emails_differing_in_case_and_spaces_are_one_lead():
    first = lead_upsert(data=LeadData(email="  Ada@Acme.Example "))
    again = lead_upsert(data=LeadData(email="ada@acme.example", title="CTO"))

    assert (first.created, again.created) == (True, False)
    assert again.lead.pk == first.lead.pk
    assert first.lead.email == "ada@acme.example"

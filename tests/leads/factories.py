from __future__ import annotations

import factory

from leadloop.leads.models import Company, Lead, Stage


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company
        django_get_or_create = ("domain",)

    name = factory.Faker("company")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    sector = "Software"
    employee_count = 250
    country = "DE"


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@company.example")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    title = "Head of Marketing"
    company = factory.SubFactory(CompanyFactory)
    stage = Stage.LEAD
    source = "organic_search"

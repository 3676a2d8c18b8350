from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leadloop.leads.models import DuplicateDismissal
from leadloop.leads.selectors import (
    duplicate_reasons,
    duplicate_suspect_pairs,
    duplicate_suspects,
    name_fold,
)
from leadloop.leads.services import DuplicatePairInvalid, duplicate_dismiss
from leadloop.loop.merge import lead_merge
from tests.accounts.factories import UserFactory
from tests.leads.factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db


def _pairs() -> dict[tuple[int, int], tuple[str, ...]]:
    return duplicate_suspect_pairs()


def test_same_name_at_the_same_company_is_suspected_whatever_the_case_and_accents():
    acme = CompanyFactory(domain="acme.example")
    a = LeadFactory(first_name="Zoë", last_name="Müller", company=acme)
    b = LeadFactory(first_name=" ZOE", last_name="MÜLLER ", company=acme)
    c = LeadFactory(first_name="zoe", last_name="muller", company=acme)

    assert _pairs() == {
        (a.pk, b.pk): ("same name and company",),
        (a.pk, c.pk): ("same name and company",),
        (b.pk, c.pk): ("same name and company",),
    }


def test_same_name_at_another_company_or_without_one_is_not_suspected():
    LeadFactory(first_name="Ada", last_name="Lovelace", company=CompanyFactory())
    LeadFactory(first_name="Ada", last_name="Lovelace", company=CompanyFactory())
    LeadFactory(first_name="Ada", last_name="Lovelace", company=None)
    LeadFactory(first_name="Ada", last_name="Lovelace", company=None)

    assert _pairs() == {}


def test_empty_names_are_no_evidence():
    acme = CompanyFactory()
    LeadFactory(first_name="", last_name="", company=acme)
    LeadFactory(first_name="", last_name="", company=acme)

    assert _pairs() == {}


def test_the_same_phone_in_any_spelling_is_suspected_and_says_which():
    a = LeadFactory(phone="+49 30 1234 5678")
    b = LeadFactory(phone="030/1234-5678")
    LeadFactory(phone="+49 30 9999 0000")

    assert _pairs() == {(a.pk, b.pk): ("same phone +49 30 1234 5678",)}


def test_very_short_phone_numbers_are_ignored():
    LeadFactory(phone="112")
    LeadFactory(phone="1-12")

    assert _pairs() == {}


def test_a_number_shared_by_many_leads_is_a_switchboard_not_a_person():
    for _ in range(11):
        LeadFactory(phone="+49 89 555 000")

    assert _pairs() == {}


def test_both_reasons_are_given_when_both_match():
    acme = CompanyFactory()
    a = LeadFactory(first_name="Ada", last_name="Byron", company=acme, phone="0171 2345678")
    b = LeadFactory(first_name="ada", last_name="byron", company=acme, phone="+49 171 2345678")

    assert _pairs() == {(a.pk, b.pk): ("same name and company", "same phone 0171 2345678")}


def test_a_dismissed_pair_is_no_longer_suspected():
    a = LeadFactory(phone="+49 30 1234 5678")
    b = LeadFactory(phone="+49 30 1234 5678")
    c = LeadFactory(phone="+49 30 1234 5678")

    duplicate_dismiss(lead_ids=(c.pk, a.pk), actor=None)

    assert set(_pairs()) == {(a.pk, b.pk), (b.pk, c.pk)}


def test_dismissing_twice_keeps_one_record_with_the_first_reviewer():
    first, second = UserFactory(), UserFactory()
    a, b = LeadFactory(), LeadFactory()

    duplicate_dismiss(lead_ids=(a.pk, b.pk), actor=first)
    again = duplicate_dismiss(lead_ids=(b.pk, a.pk), actor=second)

    assert DuplicateDismissal.objects.count() == 1
    assert (again.lead_low_id, again.lead_high_id, again.actor) == (a.pk, b.pk, first)


def test_a_lead_cannot_be_dismissed_as_its_own_duplicate_or_when_gone():
    a = LeadFactory()

    with pytest.raises(DuplicatePairInvalid, match=f"Lead {a.pk} cannot be a duplicate of itself"):
        duplicate_dismiss(lead_ids=(a.pk, a.pk), actor=None)
    with pytest.raises(DuplicatePairInvalid, match=f"No lead with id {a.pk + 1}"):
        duplicate_dismiss(lead_ids=(a.pk, a.pk + 1), actor=None)


def test_a_merged_pair_is_no_longer_suspected():
    a = LeadFactory(phone="+49 30 1234 5678")
    b = LeadFactory(phone="+49 30 1234 5678")

    lead_merge(survivor_id=a.pk, duplicate_id=b.pk, actor=None)

    assert _pairs() == {}


def test_pages_show_the_newest_pairs_first_and_clamp_the_page_number():
    leads = [LeadFactory(phone=f"+49 30 5550 {n:04d}") for n in range(3) for _ in range(2)]
    pairs = [(leads[i].pk, leads[i + 1].pk) for i in (4, 2, 0)]

    first = duplicate_suspects(page=1, per_page=2)
    last = duplicate_suspects(page=99, per_page=2)

    assert [(s.low.pk, s.high.pk) for s in first.items] == pairs[:2]
    assert (first.total, first.num_pages, first.has_next, first.has_previous) == (3, 2, True, False)
    assert [(s.low.pk, s.high.pk) for s in last.items] == pairs[2:]
    assert (last.number, last.has_next) == (2, False)


def test_the_number_of_queries_does_not_grow_with_the_data():
    acme = CompanyFactory()
    for n in range(30):
        LeadFactory(first_name="Ada", last_name=f"Twin{n}", company=acme, phone=f"0301111{n:04d}")
        LeadFactory(first_name="ada", last_name=f"twin{n}", company=acme, phone=f"0302222{n:04d}")
    DuplicateDismissal.objects.create(
        lead_low=LeadFactory(phone="030 3333 4444"), lead_high=LeadFactory(phone="030 3333 4444")
    )

    with CaptureQueriesContext(connection) as queries:
        page = duplicate_suspects(per_page=50)

    assert page.total == 30
    assert len(queries) <= 6  # per kind: groups, members; dismissals; the page's leads


def test_the_python_reasons_match_the_sql_ones():
    acme = CompanyFactory()
    a = LeadFactory(first_name="Łukasz", last_name="Nowák", company=acme, phone="+48 22 123 45 67")
    b = LeadFactory(first_name="LUKASZ", last_name="nowak", company=acme, phone="022 123 45 67")

    assert duplicate_reasons(a, b) == _pairs()[(a.pk, b.pk)]
    assert name_fold(" Łukasz ") == "lukasz"

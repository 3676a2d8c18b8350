"""The pure parts of routing: regions, rule matching in words, the weighted cycle."""

from __future__ import annotations

import pycountry
import pytest

from leadloop.agreements.schema import RoutingRule
from leadloop.routing.regions import AMERICAS, APAC, EMEA, REGIONS, region_countries, regions_of
from leadloop.routing.rules import LeadFacts, round_robin_cycle, rule_match


def test_every_country_belongs_to_exactly_one_of_emea_americas_and_apac():
    countries = {c.alpha_2 for c in pycountry.countries}

    covered = EMEA | AMERICAS | APAC

    # Antarctica and uninhabited islands belong to no sales region.
    assert countries - covered == {"AQ", "BV", "TF"}
    assert not (EMEA & AMERICAS)
    assert not (EMEA & APAC)
    assert not (AMERICAS & APAC)


@pytest.mark.parametrize(
    ("region", "inside", "outside"),
    [
        ("DACH", "CH", "FR"),
        ("nordics", "NO", "DE"),
        ("NA", "CA", "MX"),
        ("LATAM", "MX", "US"),
        ("Americas", "BR", "ES"),
        ("APAC", "SG", "AE"),
        ("EMEA", "AE", "IN"),
    ],
)
def test_regions_are_matched_by_name_in_any_case(region, inside, outside):
    codes = region_countries(region)

    assert codes is not None
    assert inside in codes
    assert outside not in codes


def test_an_unknown_region_is_none_and_a_country_lists_its_regions():
    assert region_countries("Atlantis") is None
    assert regions_of("at") == ["EMEA", "EUROPE", "DACH"]
    assert set(REGIONS) >= {"EMEA", "DACH", "NORDICS", "NA", "AMERICAS", "LATAM", "APAC"}


def test_a_territory_rule_says_which_country_matched_or_what_the_lead_has():
    rule = RoutingRule(name="T", kind="territory", countries=["FR"], regions=["DACH"])

    assert rule_match(rule, LeadFacts(country="fr")).words == "country FR"
    assert rule_match(rule, LeadFacts(company_country="AT")).words == "country AT in DACH"
    assert rule_match(rule, LeadFacts(country="US", company_country="GB")).words == (
        "lead's country is US, GB"
    )
    assert rule_match(rule, LeadFacts()).words == "lead has no country"


def test_a_company_size_rule_with_one_bound_is_open_on_the_other_side():
    at_least = RoutingRule(name="Enterprise", kind="company_size", size_min=1000)
    at_most = RoutingRule(name="Small", kind="company_size", size_max=49)

    assert rule_match(at_least, LeadFacts(company_id=1, employees=50_000)).matched
    assert rule_match(at_least, LeadFacts(company_id=1, employees=999)).words == (
        "company has 999 employees (1,000 or more)"
    )
    assert rule_match(at_most, LeadFacts(company_id=1, employees=50)).words == (
        "company has 50 employees (up to 49)"
    )


def test_a_weighted_cycle_interleaves_the_slots():
    assert round_robin_cycle([("a", 3), ("b", 1), ("c", 2)]) == ["a", "b", "c", "a", "c", "a"]
    assert round_robin_cycle([]) == []

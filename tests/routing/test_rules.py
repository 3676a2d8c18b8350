"""The pure parts of routing: rule matching in words, the weighted cycle (regions: common)."""

from __future__ import annotations

from leadloop.agreements.schema import RoutingRule
from leadloop.routing.rules import LeadFacts, round_robin_cycle, rule_match


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

"""Pure parts of routing: does a rule match a lead, in words; the weighted round-robin cycle.

No database access here: ``routing.services`` loads the facts and applies the decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from leadloop.agreements.schema import RoutingRule
from leadloop.common.regions import region_countries

T = TypeVar("T")


@dataclass(frozen=True)
class LeadFacts:
    """What the rules look at: the lead's and its company's attributes."""

    country: str = ""
    company_id: int | None = None
    company_name: str = ""
    company_country: str = ""
    sector: str = ""
    employees: int | None = None


@dataclass(frozen=True)
class Match:
    matched: bool
    words: str  # what matched ("country DE in DACH") or why not ("lead's sector is Retail")


def rule_match(rule: RoutingRule, lead: LeadFacts) -> Match:
    """Whether `rule` applies to `lead`, with the reason in words. Named accounts match any
    lead with a company: whether the company has an owner is the caller's question."""
    if rule.kind == "round_robin":
        return Match(True, "")
    if rule.kind == "named_account":
        if lead.company_id is None:
            return Match(False, "lead has no company")
        return Match(True, "")
    if rule.kind == "territory":
        return _territory(rule, lead)
    if rule.kind == "sector":
        return _sector(rule, lead)
    return _company_size(rule, lead)


def _territory(rule: RoutingRule, lead: LeadFacts) -> Match:
    countries = [c.upper() for c in (lead.country, lead.company_country) if c]
    for code in countries:
        if code in rule.countries:
            return Match(True, f"country {code}")
        for region in rule.regions:
            if code in (region_countries(region) or ()):
                return Match(True, f"country {code} in {region}")
    if not countries:
        return Match(False, "lead has no country")
    seen = ", ".join(dict.fromkeys(countries))
    return Match(False, f"lead's country is {seen}")


def _sector(rule: RoutingRule, lead: LeadFacts) -> Match:
    if lead.company_id is None:
        return Match(False, "lead has no company")
    if not lead.sector:
        return Match(False, "lead's company has no sector")
    wanted = {s.casefold() for s in rule.sectors}
    if lead.sector.casefold() in wanted:
        return Match(True, f"sector {lead.sector}")
    return Match(False, f"lead's sector is {lead.sector}")


def size_range(rule: RoutingRule) -> str:
    """The rule's company size band in words: "200-999", "1,000 or more", "up to 49"."""
    low, high = rule.size_min, rule.size_max
    if low is not None and high is not None:
        return f"{low:,}-{high:,}"
    if low is not None:
        return f"{low:,} or more"
    if high is not None:
        return f"up to {high:,}"
    return "any size"


def _company_size(rule: RoutingRule, lead: LeadFacts) -> Match:
    if lead.company_id is None:
        return Match(False, "lead has no company")
    if lead.employees is None:
        return Match(False, "company size unknown")
    low, high = rule.size_min, rule.size_max
    if (low is None or lead.employees >= low) and (high is None or lead.employees <= high):
        return Match(True, f"{lead.employees:,} employees")
    return Match(False, f"company has {lead.employees:,} employees ({size_range(rule)})")


def unknown_regions(rule: RoutingRule) -> list[str]:
    """The regions a territory rule names that ``routing.regions`` does not know."""
    return [r for r in rule.regions if region_countries(r) is None]


def round_robin_cycle(pool: Sequence[tuple[T, int]]) -> list[T]:
    """The slots of one weighted round-robin cycle: each member appears `weight` times,
    interleaved (weights 2 and 1 give A, B, A), so a heavier member is not served in bursts."""
    slots: list[T] = []
    for turn in range(max((weight for _member, weight in pool), default=0)):
        slots.extend(member for member, weight in pool if weight > turn)
    return slots

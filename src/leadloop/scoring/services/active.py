"""The rule sets in force, read by id and cached (a version's rules never change), and a
lead's values for the fit rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from django.db import connection

from leadloop.common.cache import ProcessCache
from leadloop.common.errors import LeadloopError, NotFound
from leadloop.leads.models import AttributeDefinition, Lead
from leadloop.scoring.models import EngagementRuleSet, FitRuleSet
from leadloop.scoring.rules import EngagementRuleData, FitRuleData

GRADES: Final = ("A", "B", "C", "D")


LEAD_FIELDS: Final = frozenset(
    {"title", "seniority", "country", "source", "source_detail", "stage", "email", "phone"}
)


COMPANY_FIELDS: Final = frozenset(
    {"sector", "employee_count", "country", "annual_revenue", "domain", "name"}
)


class RuleInvalid(LeadloopError):
    code = "rule_invalid"


class RuleSetMissing(NotFound):
    code = "ruleset_missing"


@dataclass(frozen=True)
class FitRules:
    ruleset_id: int
    version: int
    rules: tuple[FitRuleData, ...]
    grades: tuple[int, int, int]

    @property
    def lead_fields(self) -> set[str]:
        return {r.attribute.split(".", 1)[1] for r in self.rules if r.attribute.startswith("lead.")}

    @property
    def company_fields(self) -> set[str]:
        return {
            r.attribute.split(".", 1)[1] for r in self.rules if r.attribute.startswith("company.")
        }

    @property
    def uses_attributes(self) -> bool:
        return any(r.attribute.startswith("attributes.") for r in self.rules)


@dataclass(frozen=True)
class EngagementRules:
    ruleset_id: int
    version: int
    half_life_days: float
    scale: float
    rules: tuple[EngagementRuleData, ...]


# A version's rules never change, but its id can come back on SQLite (a rolled-back version's
# id is reused), so they are kept like other settings rows: a few seconds, cleared by
# process_caches_clear (common.cache).
FIT_RULES_CACHE: ProcessCache[FitRules] = ProcessCache("fit rules by rule set id")


ENGAGEMENT_RULES_CACHE: ProcessCache[EngagementRules] = ProcessCache(
    "engagement rules by rule set id"
)


def _fit_rules(ruleset_id: int) -> FitRules:
    cached = FIT_RULES_CACHE.get(ruleset_id)
    return (
        cached
        if cached is not None
        else FIT_RULES_CACHE.set(_fit_rules_read(ruleset_id), ruleset_id)
    )


def engagement_rules_of(ruleset_id: int) -> EngagementRules:
    cached = ENGAGEMENT_RULES_CACHE.get(ruleset_id)
    if cached is not None:
        return cached
    return ENGAGEMENT_RULES_CACHE.set(_engagement_rules_read(ruleset_id), ruleset_id)


def _fit_rules_read(ruleset_id: int) -> FitRules:
    ruleset = FitRuleSet.objects.get(pk=ruleset_id)
    types = dict(AttributeDefinition.objects.values_list("key", "type"))
    rules = tuple(
        FitRuleData(
            attribute=r.attribute,
            operator=r.operator,
            value=r.value,
            points=r.points,
            label=r.label,
            attr_type=types.get(r.attribute.removeprefix("attributes."), "text")
            if r.attribute.startswith("attributes.")
            else (
                "number"
                if r.attribute in ("company.employee_count", "company.annual_revenue")
                else "text"
            ),
        )
        for r in ruleset.rules.all()
    )
    return FitRules(
        ruleset.pk, ruleset.version, rules, (ruleset.grade_a, ruleset.grade_b, ruleset.grade_c)
    )


def _engagement_rules_read(ruleset_id: int) -> EngagementRules:
    ruleset = EngagementRuleSet.objects.get(pk=ruleset_id)
    rules = tuple(
        EngagementRuleData(
            id=r.pk,
            points=r.points,
            touch_kind=r.touch_kind,
            channel=r.channel,
            campaign_id=r.campaign_id,
            content_offer_id=r.content_offer_id,
            url_contains=r.url_contains,
            property_equals=dict(r.property_equals or {}),
            daily_cap=r.daily_cap,
            label=r.label,
        )
        for r in ruleset.rules.all()
    )
    return EngagementRules(
        ruleset.pk, ruleset.version, ruleset.half_life_days, ruleset.scale, rules
    )


def rules_active() -> tuple[FitRules | None, EngagementRules | None]:
    """Both active rule sets, found with one small query (the hot path runs it per touch)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 0, id FROM {FitRuleSet._meta.db_table} WHERE is_active "
            f"UNION ALL SELECT 1, id FROM {EngagementRuleSet._meta.db_table} WHERE is_active"
        )
        found = dict(cursor.fetchall())
    return (
        _fit_rules(found[0]) if 0 in found else None,
        engagement_rules_of(found[1]) if 1 in found else None,
    )


def fit_rules_active() -> FitRules | None:
    """The active fit rules, or None when no version is active."""
    pk = FitRuleSet.objects.filter(is_active=True).values_list("pk", flat=True).first()
    return _fit_rules(pk) if pk is not None else None


def engagement_rules_active() -> EngagementRules | None:
    """The active engagement rules, or None when no version is active."""
    pk = EngagementRuleSet.objects.filter(is_active=True).values_list("pk", flat=True).first()
    return engagement_rules_of(pk) if pk is not None else None


def fit_values(lead: Lead, fit: FitRules) -> dict[str, Any]:
    """The lead's values of every attribute the rules name."""
    values: dict[str, Any] = {}
    company = lead.company
    attributes = lead.attributes if isinstance(lead.attributes, dict) else {}
    for rule in fit.rules:
        scope, _, name = rule.attribute.partition(".")
        if scope == "lead":
            values[rule.attribute] = getattr(lead, name, None)
        elif scope == "company":
            values[rule.attribute] = getattr(company, name, None) if company else None
        elif scope == "attributes":
            values[rule.attribute] = attributes.get(name)
    return values

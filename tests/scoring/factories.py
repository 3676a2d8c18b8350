"""Rule sets for scoring tests: small, explicit, active."""

from __future__ import annotations

from typing import Any

from leadloop.scoring.models import EngagementRuleSet, FitRuleSet
from leadloop.scoring.services import (
    engagement_ruleset_activate,
    engagement_ruleset_create,
    fit_ruleset_activate,
    fit_ruleset_create,
)

FIT_RULES: list[dict[str, Any]] = [
    {"attribute": "company.sector", "operator": "eq", "value": "Software", "points": 40},
    {"attribute": "lead.seniority", "operator": "eq", "value": "vp", "points": 30},
    {"attribute": "company.domain", "operator": "is_not_set", "value": None, "points": -20},
]
ENGAGEMENT_RULES: list[dict[str, Any]] = [
    {"touch_kind": "webinar", "points": 20, "label": "webinar attendance"},
    {"touch_kind": "demo", "points": 30, "label": "demo request"},
    {"touch_kind": "page_visit", "points": 5, "daily_cap": 3, "label": "page visit"},
    {
        "touch_kind": "page_visit",
        "url_contains": "/careers",
        "points": -10,
        "label": "careers page",
    },
    {"property_equals": {"event": "unsubscribe"}, "points": -25, "label": "unsubscribed"},
]


def active_rules(
    fit: list[dict[str, Any]] | None = None, engagement: list[dict[str, Any]] | None = None
) -> tuple[FitRuleSet, EngagementRuleSet]:
    f = fit_ruleset_create(rules=FIT_RULES if fit is None else fit, actor=None)
    fit_ruleset_activate(ruleset_id=f.pk, actor=None, rescore=False)
    e = engagement_ruleset_create(
        rules=ENGAGEMENT_RULES if engagement is None else engagement, actor=None
    )
    engagement_ruleset_activate(ruleset_id=e.pk, actor=None, rescore=False)
    return f, e

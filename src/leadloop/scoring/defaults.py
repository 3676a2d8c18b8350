"""The default B2B rule sets: a sensible start that marketing ops then edits in the UI."""

from __future__ import annotations

from typing import Any, Final

from django.db import transaction

from leadloop.accounts.models import User
from leadloop.scoring.models import EngagementRuleSet, FitRuleSet
from leadloop.scoring.services import (
    engagement_ruleset_activate,
    engagement_ruleset_create,
    fit_ruleset_activate,
    fit_ruleset_create,
)

FIT_DEFAULTS: Final[list[dict[str, Any]]] = [
    {
        "attribute": "company.sector",
        "operator": "in",
        "value": ["Software", "IT services"],
        "points": 25,
        "label": "sector is Software or IT services",
    },
    {
        "attribute": "company.sector",
        "operator": "in",
        "value": [
            "Financial services",
            "Media & marketing",
            "Telecommunications",
            "Manufacturing",
            "Retail & e-commerce",
            "Logistics",
            "Professional services",
        ],
        "points": 12,
        "label": "sector is a good match",
    },
    {
        "attribute": "company.sector",
        "operator": "in",
        "value": ["Education", "Non-profit"],
        "points": -10,
        "label": "sector rarely buys (education, non-profit)",
    },
    {
        "attribute": "company.employee_count",
        "operator": "between",
        "value": [51, 1000],
        "points": 25,
        "label": "company size 51-1,000 employees",
    },
    {
        "attribute": "company.employee_count",
        "operator": "between",
        "value": [1001, 5000],
        "points": 20,
        "label": "company size 1,001-5,000 employees",
    },
    {
        "attribute": "company.employee_count",
        "operator": "between",
        "value": [11, 50],
        "points": 10,
        "label": "company size 11-50 employees",
    },
    {
        "attribute": "company.employee_count",
        "operator": "gte",
        "value": 5001,
        "points": 10,
        "label": "company size above 5,000 employees",
    },
    {
        "attribute": "lead.seniority",
        "operator": "in",
        "value": ["director", "vp"],
        "points": 25,
        "label": "a director or VP title",
    },
    {
        "attribute": "lead.seniority",
        "operator": "in",
        "value": ["cxo", "owner"],
        "points": 20,
        "label": "a C-level or owner title",
    },
    {
        "attribute": "lead.seniority",
        "operator": "eq",
        "value": "manager",
        "points": 15,
        "label": "a manager title",
    },
    {
        "attribute": "lead.seniority",
        "operator": "eq",
        "value": "senior",
        "points": 5,
        "label": "a senior title",
    },
    {
        "attribute": "company.country",
        "operator": "in",
        "value": ["US", "CA", "DE", "AT", "CH", "GB", "IE", "NL", "FR", "SE", "DK"],
        "points": 15,
        "label": "based in a core market",
    },
    {
        "attribute": "company.domain",
        "operator": "is_not_set",
        "value": None,
        "points": -20,
        "label": "free-mail address, no company",
    },
]

ENGAGEMENT_DEFAULTS: Final[list[dict[str, Any]]] = [
    {"touch_kind": "demo", "points": 30, "label": "demo request"},
    {"touch_kind": "meeting", "points": 25, "label": "meeting"},
    {"touch_kind": "reply", "points": 15, "label": "reply to sales"},
    {"touch_kind": "webinar", "points": 15, "label": "webinar attendance"},
    {"touch_kind": "event", "points": 12, "label": "event attendance"},
    {"touch_kind": "form_fill", "points": 10, "label": "form fill"},
    {"touch_kind": "content_download", "points": 10, "label": "content download"},
    {"touch_kind": "email_click", "points": 4, "daily_cap": 3, "label": "e-mail click"},
    {"touch_kind": "email_open", "points": 1, "daily_cap": 1, "label": "e-mail open"},
    {"touch_kind": "page_visit", "points": 3, "daily_cap": 3, "label": "page visit"},
    {
        "touch_kind": "page_visit",
        "url_contains": "/pricing",
        "points": 8,
        "daily_cap": 1,
        "label": "pricing page visit",
    },
    {"touch_kind": "ad_click", "points": 2, "daily_cap": 2, "label": "ad click"},
    {"touch_kind": "social", "points": 2, "daily_cap": 2, "label": "social engagement"},
    {
        "touch_kind": "page_visit",
        "url_contains": "/careers",
        "points": -10,
        "daily_cap": 1,
        "label": "careers page visit (job seeker?)",
    },
    {"property_equals": {"event": "unsubscribe"}, "points": -25, "label": "unsubscribed"},
    {"property_equals": {"event": "bounce"}, "points": -15, "label": "e-mail bounced"},
]


@transaction.atomic
def scoring_defaults_install(*, actor: User | None = None) -> tuple[bool, bool]:
    """Create and activate the default fit and engagement rules where no version exists yet;
    returns which were installed. No rescore is enqueued: call ``scores_rescore`` after."""
    fit = eng = False
    if not FitRuleSet.objects.exists():
        ruleset = fit_ruleset_create(rules=FIT_DEFAULTS, note="Default B2B rules", actor=actor)
        fit_ruleset_activate(ruleset_id=ruleset.pk, actor=actor, rescore=False)
        fit = True
    if not EngagementRuleSet.objects.exists():
        eruleset = engagement_ruleset_create(
            rules=ENGAGEMENT_DEFAULTS, note="Default engagement rules", actor=actor
        )
        engagement_ruleset_activate(ruleset_id=eruleset.pk, actor=actor, rescore=False)
        eng = True
    return fit, eng

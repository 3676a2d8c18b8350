"""The agreement a new installation starts from: version 1, in force until the teams change it.

A reasonable starting contract in the spirit of the literature on SLAs between marketing and
sales: qualify on fit and engagement or a high predicted probability, hand-raisers at once,
sales answers within two business days, every reject and loss has a next action.
"""

from __future__ import annotations

from typing import Any, Final

DEFAULT_TITLE: Final = "Initial hand-off agreement"
DEFAULT_PREAMBLE: Final = (
    "Marketing hands over leads that fit and engage, or that ask for sales. Sales answers every "
    "lead: accepts it, or rejects it with a reason, and every reason says what happens next."
)

DEFAULT_BODY: Final[dict[str, Any]] = {
    "qualification": {
        "groups": [
            {"fit_grade_min": "B", "engagement_min": 40},
            {"predicted_min": 0.25},
        ],
        "hand_raisers": [
            {"touch_kind": "demo", "label": "Demo request"},
            {"content_kind": "demo", "label": "Demo offer"},
            {"content_kind": "price_sheet", "label": "Price sheet"},
        ],
    },
    "routing": {
        "rules": [
            {"name": "Named accounts", "kind": "named_account"},
            {"name": "Everyone", "kind": "round_robin", "team": "Sales"},
        ],
        "cap_per_day": 10,
        "cap_per_week": 40,
        "skip_out_of_office": True,
        "marketing_queue": "Marketing",
        "fallback_queue": "Sales",
    },
    "slas": {
        "sales": {
            "first_response_hours": 16,
            "contact_attempt_hours": 8,
            "decision_days": 5,
            "remind_before_hours": 2,
            "pause_when_out_of_office": True,
            "reassign_on_breach": False,
        },
        "marketing": {
            "period": "week",
            "mqls_per_period": 50,
            "good_fit_share": 0.6,
            "accepted_share": 0.5,
        },
    },
    "reasons": [
        {"code": "bad_fit", "label": "Bad fit", "kind": "reject", "action": "disqualify"},
        {
            "code": "wrong_contact",
            "label": "Wrong contact",
            "kind": "reject",
            "action": "nurture",
            "track": "find-the-buyer",
        },
        {
            "code": "no_budget",
            "label": "No budget",
            "kind": "reject",
            "action": "recycle",
            "track": "value",
            "recycle_days": 90,
        },
        {
            "code": "not_now",
            "label": "Not now",
            "kind": "reject",
            "action": "recycle",
            "track": "stay-in-touch",
            "recycle_days": 90,
        },
        {
            "code": "competitor",
            "label": "Uses a competitor",
            "kind": "reject",
            "action": "recycle",
            "track": "switch",
            "recycle_days": 180,
        },
        {"code": "duplicate", "label": "Duplicate", "kind": "reject", "action": "merge_duplicate"},
        {"code": "spam", "label": "Spam or fake", "kind": "reject", "action": "disqualify"},
        {
            "code": "student",
            "label": "Student or job seeker",
            "kind": "reject",
            "action": "disqualify",
        },
        {
            "code": "price",
            "label": "Price",
            "kind": "lost",
            "action": "recycle",
            "track": "value",
            "recycle_days": 120,
        },
        {
            "code": "timing",
            "label": "Timing",
            "kind": "lost",
            "action": "recycle",
            "track": "stay-in-touch",
            "recycle_days": 90,
        },
        {
            "code": "competitor",
            "label": "Chose a competitor",
            "kind": "lost",
            "action": "recycle",
            "track": "switch",
            "recycle_days": 365,
        },
        {
            "code": "no_decision",
            "label": "No decision",
            "kind": "lost",
            "action": "nurture",
            "track": "stay-in-touch",
        },
        {
            "code": "feature_gap",
            "label": "Missing feature",
            "kind": "lost",
            "action": "nurture",
            "track": "product-news",
        },
    ],
    "handoff": {"mode": "instant", "weekday": 0, "time": "09:00", "time_zone": "Europe/Berlin"},
}

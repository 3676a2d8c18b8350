"""Scoring's writes: rule set versions, incremental scores per touch, the default rules.

    a touch is recorded (loop) -> scores_capture / scores_touches_record: O(1) per touch,
        S += pᵢ·2^((tᵢ - t₀)/h) per matching rule (daily caps via EngagementCapCount),
        fit recomputed only for new or changed leads, ScoreHistory when a score moves
    a rule set is edited -> *_ruleset_create (copy + change, a new version) -> *_ruleset_activate
        -> the rescore task (scoring.tasks.rescore_all) -> scoring.rescore.scores_rescore

Rule sets are immutable once created: a version's rules never change, so they are cached by
the rule set's id (for a few seconds: common.cache; an id can come back on SQLite).
"""

from leadloop.scoring.services.active import (
    COMPANY_FIELDS,
    GRADES,
    LEAD_FIELDS,
    EngagementRules,
    FitRules,
    RuleInvalid,
    RuleSetMissing,
    engagement_rules_active,
    fit_rules_active,
    fit_values,
    rules_active,
)
from leadloop.scoring.services.incremental import scores_capture, scores_touches_record
from leadloop.scoring.services.merge import scores_merge
from leadloop.scoring.services.qualify import (
    QualifyGroup,
    Snapshot,
    qualifies,
    qualify_groups,
    snapshot,
)
from leadloop.scoring.services.rulesets import (
    engagement_rules_as_data,
    engagement_ruleset_activate,
    engagement_ruleset_create,
    fit_rules_as_data,
    fit_ruleset_activate,
    fit_ruleset_create,
    qualify_thresholds_init,
    qualify_thresholds_set,
)

__all__ = [
    "COMPANY_FIELDS",
    "GRADES",
    "LEAD_FIELDS",
    "EngagementRules",
    "FitRules",
    "QualifyGroup",
    "RuleInvalid",
    "RuleSetMissing",
    "Snapshot",
    "engagement_rules_active",
    "engagement_rules_as_data",
    "engagement_ruleset_activate",
    "engagement_ruleset_create",
    "fit_rules_active",
    "fit_rules_as_data",
    "fit_ruleset_activate",
    "fit_ruleset_create",
    "fit_values",
    "qualifies",
    "qualify_groups",
    "qualify_thresholds_init",
    "qualify_thresholds_set",
    "rules_active",
    "scores_capture",
    "scores_merge",
    "scores_touches_record",
    "snapshot",
]

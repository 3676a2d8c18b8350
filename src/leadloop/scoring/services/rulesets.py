"""Rule set versions: made by copying and changing one, activated (then everything is
rescored), and the agreement's qualification thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.capture.models import TouchKind
from leadloop.scoring.models import (
    EngagementRule,
    EngagementRuleSet,
    FitRule,
    FitRuleSet,
    Operator,
    QualifyThresholds,
)
from leadloop.scoring.rules import MIN_HALF_LIFE_DAYS
from leadloop.scoring.services.active import (
    COMPANY_FIELDS,
    GRADES,
    LEAD_FIELDS,
    RuleInvalid,
    RuleSetMissing,
)


def _check_attribute(attribute: str, loc: tuple[str | int, ...]) -> None:
    scope, _, name = attribute.partition(".")
    ok = (
        (scope == "lead" and name in LEAD_FIELDS)
        or (scope == "company" and name in COMPANY_FIELDS)
        or (scope == "attributes" and bool(name))
    )
    if not ok:
        raise RuleInvalid(
            f"Attribute {attribute!r} is unknown: use lead.<{'|'.join(sorted(LEAD_FIELDS))}>, "
            f"company.<{'|'.join(sorted(COMPANY_FIELDS))}> or attributes.<key>.",
            loc=loc,
        )


def _check_fit_rule(rule: Mapping[str, Any], index: int) -> None:
    _check_attribute(str(rule.get("attribute", "")), ("rules", index, "attribute"))
    op = rule.get("operator")
    if op not in Operator.values:
        raise RuleInvalid(
            f"Rule {index + 1}: operator {op!r} is unknown; use one of "
            f"{', '.join(Operator.values)}.",
            loc=("rules", index, "operator"),
        )
    value = rule.get("value")
    if op == Operator.BETWEEN and not (isinstance(value, list) and len(value) == 2):
        raise RuleInvalid(
            f"Rule {index + 1}: 'is between' needs two values, low and high; got {value!r}.",
            loc=("rules", index, "value"),
        )
    if op in (Operator.IN, Operator.NOT_IN) and not isinstance(value, list):
        raise RuleInvalid(
            f"Rule {index + 1}: {Operator(op).label!r} needs a list of values; got {value!r}.",
            loc=("rules", index, "value"),
        )


def _next_version(model: type[FitRuleSet] | type[EngagementRuleSet]) -> int:
    return (model.objects.aggregate(v=Max("version"))["v"] or 0) + 1


@transaction.atomic
def fit_ruleset_create(
    *,
    rules: Sequence[Mapping[str, Any]],
    grades: tuple[int, int, int] = (75, 50, 25),
    note: str = "",
    actor: User | None,
) -> FitRuleSet:
    """A new fit rule set version (not active yet) with `rules` (dicts with attribute,
    operator, value, points, label). Raises RuleInvalid naming the rule and field."""
    a, b, c = grades
    if not 100 >= a > b > c >= 0:
        raise RuleInvalid(
            f"Grade bands must fall: A > B > C, within 0-100; got A {a}, B {b}, C {c}.",
            loc=("grade_a",),
        )
    for index, rule in enumerate(rules):
        _check_fit_rule(rule, index)
    ruleset = FitRuleSet.objects.create(
        version=_next_version(FitRuleSet),
        grade_a=a,
        grade_b=b,
        grade_c=c,
        note=note,
        created_by=actor,
    )
    FitRule.objects.bulk_create(
        FitRule(
            ruleset=ruleset,
            attribute=str(r["attribute"]),
            operator=str(r["operator"]),
            value=r.get("value"),
            points=int(r["points"]),
            label=str(r.get("label", "")),
            position=i,
        )
        for i, r in enumerate(rules)
    )
    return ruleset


@transaction.atomic
def engagement_ruleset_create(
    *,
    rules: Sequence[Mapping[str, Any]],
    half_life_days: float = 30.0,
    scale: float = 50.0,
    note: str = "",
    actor: User | None,
) -> EngagementRuleSet:
    """A new engagement rule set version (not active yet). Raises RuleInvalid."""
    if half_life_days < MIN_HALF_LIFE_DAYS:
        raise RuleInvalid(
            f"The half-life must be at least {MIN_HALF_LIFE_DAYS:g} days; got {half_life_days:g}.",
            loc=("half_life_days",),
        )
    if scale <= 0:
        raise RuleInvalid(f"The scale k must be above 0; got {scale:g}.", loc=("scale",))
    kinds = set(TouchKind.values)
    for index, r in enumerate(rules):
        if r.get("touch_kind") and r["touch_kind"] not in kinds:
            raise RuleInvalid(
                f"Rule {index + 1}: touch kind {r['touch_kind']!r} is unknown.",
                loc=("rules", index, "touch_kind"),
            )
        if not isinstance(r.get("property_equals") or {}, dict):
            raise RuleInvalid(
                f"Rule {index + 1}: property match must be an object like "
                '{"event": "unsubscribe"}.',
                loc=("rules", index, "property_equals"),
            )
    ruleset = EngagementRuleSet.objects.create(
        version=_next_version(EngagementRuleSet),
        half_life_days=half_life_days,
        scale=scale,
        note=note,
        created_by=actor,
    )
    EngagementRule.objects.bulk_create(
        EngagementRule(
            ruleset=ruleset,
            touch_kind=str(r.get("touch_kind") or ""),
            channel=str(r.get("channel") or ""),
            campaign_id=r.get("campaign_id"),
            content_offer_id=r.get("content_offer_id"),
            url_contains=str(r.get("url_contains") or ""),
            property_equals=dict(r.get("property_equals") or {}),
            points=int(r["points"]),
            daily_cap=r.get("daily_cap"),
            label=str(r.get("label", "")),
            position=i,
        )
        for i, r in enumerate(rules)
    )
    return ruleset


def _activate(model: type[FitRuleSet] | type[EngagementRuleSet], ruleset_id: int) -> Any:
    ruleset = model.objects.select_for_update().filter(pk=ruleset_id).first()
    if ruleset is None:
        raise RuleSetMissing(f"No rule set with id {ruleset_id}.", loc=("ruleset_id",))
    model.objects.filter(is_active=True).exclude(pk=ruleset_id).update(is_active=False)
    ruleset.is_active, ruleset.activated_at = True, timezone.now()
    ruleset.save(update_fields=["is_active", "activated_at"])
    return ruleset


def _rescore_after_commit(cause: str) -> None:
    from leadloop.scoring.progress import rescore_progress_set
    from leadloop.scoring.tasks import rescore_all  # tasks import this module

    def enqueue() -> None:
        rescore_progress_set(cause=cause, done=0, total=0, running=True)
        rescore_all.enqueue(cause=cause)

    transaction.on_commit(enqueue)


def _threshold_group(group: Mapping[str, Any], index: int) -> dict[str, Any]:
    """One group checked and normalised (unset keys left out). Raises RuleInvalid."""
    where = f"Threshold group {index + 1}"
    unknown = sorted(set(group) - {"fit_grade_min", "engagement_min", "predicted_min"})
    if unknown:
        raise RuleInvalid(f"{where}: {unknown[0]!r} is not a threshold.", loc=("groups", index))
    out: dict[str, Any] = {}
    grade, engagement, predicted = (
        group.get("fit_grade_min"),
        group.get("engagement_min"),
        group.get("predicted_min"),
    )
    if grade is not None:
        if grade not in GRADES:
            raise RuleInvalid(
                f"{where}: fit grade {grade!r} is not one of A, B, C, D.",
                loc=("groups", index, "fit_grade_min"),
            )
        out["fit_grade_min"] = grade
    if engagement is not None:
        if (
            isinstance(engagement, bool)
            or not isinstance(engagement, int)
            or not (0 <= engagement <= 100)
        ):
            raise RuleInvalid(
                f"{where}: engagement must be a whole number from 0 to 100; got {engagement!r}.",
                loc=("groups", index, "engagement_min"),
            )
        out["engagement_min"] = engagement
    if predicted is not None:
        if (
            isinstance(predicted, bool)
            or not isinstance(predicted, int | float)
            or not (0 < predicted <= 1)
        ):
            raise RuleInvalid(
                f"{where}: the predicted probability must be above 0 and at most 1; "
                f"got {predicted!r}.",
                loc=("groups", index, "predicted_min"),
            )
        out["predicted_min"] = float(predicted)
    if not out:
        raise RuleInvalid(f"{where} has no threshold.", loc=("groups", index))
    return out


@transaction.atomic
def qualify_thresholds_set(
    *,
    groups: Sequence[Mapping[str, Any]],
    agreement_version: int | None,
    rescore: bool = True,
) -> QualifyThresholds:
    """Store the thresholds a lead must meet to qualify (any group; in a group every set key
    of fit_grade_min, engagement_min, predicted_min). When they differ from the stored ones,
    every lead is rescored in the background after commit, so ``LeadScore.qualifies``
    follows them. Raises RuleInvalid naming the group and key."""
    clean = [_threshold_group(g, i) for i, g in enumerate(groups)]
    row = QualifyThresholds.objects.select_for_update().filter(pk=1).first()
    changed = row is None or row.groups != clean
    if row is None:
        row = QualifyThresholds.objects.create(
            pk=1, groups=clean, agreement_version=agreement_version
        )
    else:
        row.groups, row.agreement_version = clean, agreement_version
        row.save(update_fields=["groups", "agreement_version", "updated_at"])
    if changed and rescore:
        label = f"agreement v{agreement_version}" if agreement_version else "qualification"
        _rescore_after_commit(f"{label} thresholds")
    return row


def qualify_thresholds_init(*, groups: Sequence[Mapping[str, Any]], agreement_version: int) -> None:
    """Store the initial agreement's thresholds unless thresholds are stored already: one
    INSERT that yields to an existing row, no rescore (the initial agreement is made before a
    lead is scored). Raises RuleInvalid naming the group and key."""
    clean = [_threshold_group(g, i) for i, g in enumerate(groups)]
    QualifyThresholds.objects.bulk_create(
        [QualifyThresholds(pk=1, groups=clean, agreement_version=agreement_version)],
        ignore_conflicts=True,
    )


@transaction.atomic
def fit_ruleset_activate(
    *, ruleset_id: int, actor: User | None, rescore: bool = True
) -> FitRuleSet:
    """Make version `ruleset_id` the active fit rules; every lead is rescored in the
    background after commit. Raises RuleSetMissing."""
    ruleset: FitRuleSet = _activate(FitRuleSet, ruleset_id)
    if rescore:
        _rescore_after_commit(f"fit rules v{ruleset.version}")
    return ruleset


@transaction.atomic
def engagement_ruleset_activate(
    *, ruleset_id: int, actor: User | None, rescore: bool = True
) -> EngagementRuleSet:
    """Make version `ruleset_id` the active engagement rules; rescore in the background."""
    ruleset: EngagementRuleSet = _activate(EngagementRuleSet, ruleset_id)
    if rescore:
        _rescore_after_commit(f"engagement rules v{ruleset.version}")
    return ruleset


def fit_rules_as_data(ruleset: FitRuleSet) -> list[dict[str, Any]]:
    """A version's rules as the dicts ``fit_ruleset_create`` takes (to copy and change)."""
    return [
        {
            "attribute": r.attribute,
            "operator": r.operator,
            "value": r.value,
            "points": r.points,
            "label": r.label,
        }
        for r in ruleset.rules.all()
    ]


def engagement_rules_as_data(ruleset: EngagementRuleSet) -> list[dict[str, Any]]:
    return [
        {
            "touch_kind": r.touch_kind,
            "channel": r.channel,
            "campaign_id": r.campaign_id,
            "content_offer_id": r.content_offer_id,
            "url_contains": r.url_contains,
            "property_equals": r.property_equals,
            "points": r.points,
            "daily_cap": r.daily_cap,
            "label": r.label,
        }
        for r in ruleset.rules.all()
    ]

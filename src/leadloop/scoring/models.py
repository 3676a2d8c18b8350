"""Scores of leads: fit rules, engagement rules with decay, predictive models, and history.

Three scores stay apart (DESIGN.md, "Scoring"; METRICS.md, "Scores"):
- fit 0-100 with a grade A-D, from versioned rules on company and person attributes;
- engagement 0-100 = 100·(1 - exp(-E/k)), E the decayed sum of touch points, kept as
  ``engagement_sum`` = Σ pᵢ·2^((tᵢ - t₀)/h) at the fixed epoch t₀ so each touch adds one term;
- predicted: the calibrated probability from the active model, with its version.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadloop.capture.models import Campaign
from leadloop.content.models import ContentOffer
from leadloop.leads.models import Lead

# t₀ of the engagement sums. Rebase (rescale every sum) only if it ever drifts centuries away.
ENGAGEMENT_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


class _RuleSetVersion(models.Model):
    """What every versioned rule set has: a number, whether it is in force, who made it, when."""

    version = models.PositiveIntegerField(unique=True)
    is_active = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-version"]


class FitRuleSet(_RuleSetVersion):
    """One version of the fit rules; exactly one is active. Editing makes a new version."""

    grade_a = models.PositiveSmallIntegerField(default=75)
    grade_b = models.PositiveSmallIntegerField(default=50)
    grade_c = models.PositiveSmallIntegerField(default=25)

    class Meta(_RuleSetVersion.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_fit_ruleset",
            ),
        ]

    def __str__(self) -> str:
        return f"Fit rules v{self.version}"


class Operator(models.TextChoices):
    EQ = "eq", _("is")
    NEQ = "neq", _("is not")
    IN = "in", _("is one of")
    NOT_IN = "not_in", _("is none of")
    GTE = "gte", _("is at least")
    LTE = "lte", _("is at most")
    BETWEEN = "between", _("is between")
    CONTAINS = "contains", _("contains")
    IS_SET = "is_set", _("is known")
    IS_NOT_SET = "is_not_set", _("is unknown")


class FitRule(models.Model):
    """`points` when `attribute` `operator` `value` holds for a lead.

    ``attribute`` names ``lead.<field>`` (title, seniority, country, source, …),
    ``company.<field>`` (sector, employee_count, country, annual_revenue) or
    ``attributes.<key>`` (a custom attribute, e.g. from an import).
    """

    ruleset = models.ForeignKey(FitRuleSet, on_delete=models.CASCADE, related_name="rules")
    attribute = models.CharField(max_length=120)
    operator = models.CharField(max_length=12, choices=Operator.choices)
    value = models.JSONField(default=None, null=True, blank=True)
    points = models.SmallIntegerField()
    label = models.CharField(max_length=200, blank=True, help_text=_("Words for the explanation"))
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["ruleset", "position", "id"]

    def __str__(self) -> str:
        return self.label or f"{self.attribute} {self.operator} {self.value!r}: {self.points:+d}"


class EngagementRuleSet(_RuleSetVersion):
    """One version of the engagement rules, with the half-life and scale they use."""

    half_life_days = models.FloatField(default=30.0)
    scale = models.FloatField(default=50.0, help_text=_("k in 100·(1 - exp(-E/k))"))

    class Meta(_RuleSetVersion.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_engagement_ruleset",
            ),
        ]

    def __str__(self) -> str:
        return f"Engagement rules v{self.version}"


class EngagementRule(models.Model):
    """Points for a touch matching every non-empty criterion; negative for bad signals."""

    ruleset = models.ForeignKey(EngagementRuleSet, on_delete=models.CASCADE, related_name="rules")
    touch_kind = models.CharField(max_length=20, blank=True)
    channel = models.CharField(max_length=20, blank=True)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    content_offer = models.ForeignKey(
        ContentOffer, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    url_contains = models.CharField(max_length=200, blank=True, help_text=_("e.g. /careers"))
    property_equals = models.JSONField(
        default=dict, blank=True, help_text=_('e.g. {"event": "unsubscribe"}')
    )
    points = models.SmallIntegerField()
    daily_cap = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("At most this many matching touches a day count")
    )
    label = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["ruleset", "position", "id"]

    def __str__(self) -> str:
        return self.label or f"{self.touch_kind or 'any touch'}: {self.points:+d}"


class EngagementCapCount(models.Model):
    """How many touches of a lead a capped rule has counted on one day."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(EngagementRule, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "rule", "day"], name="engagement_cap_lead_rule_day"
            ),
        ]

    def __str__(self) -> str:
        return f"Lead {self.lead_id}, rule {self.rule_id}, {self.day}: {self.count}"


class PredictiveModel(models.Model):
    """A trained, calibrated model with its metrics; activated only if it beats the base rate."""

    version = models.PositiveIntegerField(unique=True)
    outcome = models.CharField(max_length=20, default="customer")
    horizon_days = models.PositiveSmallIntegerField(default=180)
    algorithm = models.CharField(max_length=100)
    features = models.JSONField(default=list)
    metrics = models.JSONField(
        default=dict, help_text=_("AUC, Brier, log loss, base rate, calibration, sizes")
    )
    artifact = models.BinaryField(help_text=_("The fitted pipeline (joblib)"))
    is_active = models.BooleanField(default=False)
    status_note = models.TextField(blank=True)
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trained_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=models.Q(is_active=True),
                name="one_active_predictive_model",
            ),
        ]

    def __str__(self) -> str:
        return f"Model v{self.version} ({self.algorithm})"


class LeadScore(models.Model):
    """A lead's current scores and their explanations."""

    lead = models.OneToOneField(
        Lead, primary_key=True, on_delete=models.CASCADE, related_name="score"
    )
    fit_score = models.PositiveSmallIntegerField(default=0)
    fit_grade = models.CharField(max_length=1, default="D")
    fit_version = models.PositiveIntegerField(null=True, blank=True)
    fit_reasons = models.JSONField(default=list, blank=True)
    engagement_sum = models.FloatField(
        default=0.0, help_text=_("Σ pᵢ·2^((tᵢ - t₀)/h) at ENGAGEMENT_EPOCH")
    )
    engagement_version = models.PositiveIntegerField(null=True, blank=True)
    engagement_reasons = models.JSONField(default=list, blank=True)
    last_touch_at = models.DateTimeField(null=True, blank=True)
    predicted_probability = models.FloatField(null=True, blank=True)
    predicted_version = models.PositiveIntegerField(null=True, blank=True)
    predicted_reasons = models.JSONField(default=list, blank=True)
    qualifies = models.BooleanField(default=False, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["fit_score"], name="leadscore_fit"),
            models.Index(fields=["engagement_sum"], name="leadscore_engagement"),
            models.Index(fields=["predicted_probability"], name="leadscore_predicted"),
        ]

    def __str__(self) -> str:
        return f"Scores of lead {self.lead_id}"


class ScoreHistory(models.Model):
    """A lead's scores at a moment, written when one of them moves."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="score_history")
    at = models.DateTimeField(default=timezone.now)
    fit_score = models.PositiveSmallIntegerField()
    engagement_score = models.PositiveSmallIntegerField()
    predicted_probability = models.FloatField(null=True, blank=True)
    cause = models.CharField(
        max_length=200, blank=True, help_text=_("What moved it: a touch, a rule change, a model")
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "at"], name="scorehistory_lead_at")]

    def __str__(self) -> str:
        return f"Lead {self.lead_id} at {self.at:%Y-%m-%d}"


class QualifyThresholds(models.Model):
    """The score thresholds that make a lead qualify, as the agreement in force sets them.

    One row (pk 1). ``groups`` is a list of ``{"fit_grade_min", "engagement_min",
    "predicted_min"}`` (unset keys ignored); a lead qualifies when any group holds. Without the
    row, LEADLOOP_QUALIFY_FIT and LEADLOOP_QUALIFY_ENGAGEMENT apply.
    """

    groups = models.JSONField(default=list)
    agreement_version = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "qualify thresholds"

    def __str__(self) -> str:
        return f"Thresholds of agreement v{self.agreement_version}"

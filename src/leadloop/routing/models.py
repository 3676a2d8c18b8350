"""Who owns each lead, and why: assignments, rep loads for caps, round-robin cursors, batches."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leadloop.accounts.models import Team
from leadloop.leads.models import Lead
from leadloop.lifecycle.models import StageChange


class AssignmentKind(models.TextChoices):
    ROUTED = "routed", _("Routed by a rule")
    FALLBACK = "fallback", _("Fallback queue")
    MANUAL = "manual", _("Reassigned by hand")
    RETURNED = "returned", _("Returned to marketing")
    ESCALATION = "escalation", _("Reassigned at an SLA breach")
    MERGE = "merge", _("Kept at a merge")


class Assignment(models.Model):
    """One change of a lead's owner (a person) or queue (a team), with the rule and the why.

    ``explanation`` lists every candidate the rule looked at and why it was skipped
    (``[{"candidate": "ana", "skipped": "at weekly cap 25/25"}, ...]``).
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    cycle = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=AssignmentKind.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assignments",
    )
    queue = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="assignments"
    )
    previous_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    previous_queue = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.CharField(max_length=100, blank=True, help_text=_("The rule that matched"))
    why = models.CharField(max_length=500, blank=True)
    explanation = models.JSONField(default=list, blank=True)
    agreement_version = models.PositiveIntegerField(null=True, blank=True)
    stage_change = models.ForeignKey(
        StageChange,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assignments",
        help_text=_("The qualification this routing answered (routed once)"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty: the system"),
    )
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["lead", "at"], name="assignment_lead_at")]
        constraints = [
            # A qualification is routed once, whichever worker gets there first.
            models.UniqueConstraint(
                fields=["stage_change"],
                condition=Q(stage_change__isnull=False),
                name="assignment_once_per_qualification",
            ),
            models.CheckConstraint(
                condition=Q(assignee__isnull=False) | Q(queue__isnull=False),
                name="assignment_has_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"Lead {self.lead_id} → {self.assignee_id or self.queue_id} ({self.kind})"


class LoadPeriod(models.TextChoices):
    DAY = "day", _("Day")
    WEEK = "week", _("Week")


class RepLoad(models.Model):
    """How many leads a rep was routed in one day or week: the counter the caps check.

    Incremented with a conditional UPDATE (``count < cap``) so two workers can never push a
    rep past a cap.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=10, choices=LoadPeriod.choices)
    starts_on = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period", "starts_on"], name="repload_user_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period} {self.starts_on}: {self.count}"


class RoundRobinCursor(models.Model):
    """Where a rule's round robin stands; locked while a pick is made."""

    key = models.CharField(max_length=200, unique=True, help_text=_("The rule's name"))
    position = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.position}"


class HandoffBatch(models.Model):
    """A batched hand-off: the MQLs collected until `due_at` and delivered together."""

    due_at = models.DateTimeField(unique=True)
    agreement_version = models.PositiveIntegerField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-due_at"]

    def __str__(self) -> str:
        return f"Hand-off due {self.due_at:%Y-%m-%d %H:%M}"

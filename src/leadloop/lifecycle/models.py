"""The audit log of the lifecycle: one row for every stage change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from leadloop.leads.models import Lead, Stage


class StageChange(models.Model):
    """Who moved which lead from where to where, when and why."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="stage_changes",
        help_text=_("Empty: the system (a rule or a task)"),
    )
    rule = models.CharField(
        max_length=200, blank=True, help_text=_("The rule or task that acted, when no person did")
    )
    reason = models.CharField(
        max_length=100, blank=True, help_text=_("Reason code from the agreement's catalogue")
    )
    note = models.TextField(blank=True)
    agreement_version = models.PositiveIntegerField(null=True, blank=True)
    cycle = models.PositiveIntegerField(
        default=0, help_text=_("The lead's MQL cycle this change belongs to")
    )
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["lead", "at"], name="stagechange_lead_at"),
            models.Index(fields=["to_stage", "at"], name="stagechange_to_at"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '∅'} → {self.to_stage} at {self.at:%Y-%m-%d %H:%M}"

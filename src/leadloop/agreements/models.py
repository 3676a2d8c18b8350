"""The hand-off agreement: versioned, approved by both teams, one version in force at a time."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_FORCE = "in_force", _("In force")
    SUPERSEDED = "superseded", _("Superseded")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ApprovalSide(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")


class AgreementVersion(models.Model):
    """One version of the agreement. Its body (``agreements.schema.AgreementBody``) is frozen
    once both sides approve it; a change is a new draft."""

    number = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200)
    preamble = models.TextField(blank=True, help_text=_("Why the teams agreed this, in words"))
    body = models.JSONField(help_text=_("AgreementBody: qualification, routing, SLAs, reasons"))
    status = models.CharField(
        max_length=20, choices=AgreementStatus.choices, default=AgreementStatus.DRAFT
    )
    based_on = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The version this draft started from (the diff compares with it)"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    effective_at = models.DateTimeField(null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            # At most one version is in force.
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="in_force"),
                name="agreement_one_in_force",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.number} {self.title}"


class AgreementApproval(models.Model):
    """One side's approval of a version: a marketing lead and a sales manager each sign."""

    version = models.ForeignKey(
        AgreementVersion, on_delete=models.CASCADE, related_name="approvals"
    )
    side = models.CharField(max_length=20, choices=ApprovalSide.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at"]
        constraints = [
            models.UniqueConstraint(fields=["version", "side"], name="agreement_approval_side"),
        ]

    def __str__(self) -> str:
        return f"v{self.version.number} approved for {self.side} by {self.user}"

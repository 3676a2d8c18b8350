"""Companies and leads: who they are, where they stand, who owns them.

A lead's ``stage`` and stage timestamps are written only by ``lifecycle.services`` (one
function, one audit row); nothing else assigns them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadloop.accounts.models import Team


class Stage(models.TextChoices):
    SUBSCRIBER = "subscriber", _("Subscriber")
    LEAD = "lead", _("Lead")
    MQL = "mql", _("MQL")
    SAL = "sal", _("SAL")
    SQL = "sql", _("SQL")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    NURTURE = "nurture", _("Nurture")
    DISQUALIFIED = "disqualified", _("Disqualified")


# The main funnel, in order; nurture and disqualified are side stages.
FUNNEL: tuple[Stage, ...] = (
    Stage.SUBSCRIBER,
    Stage.LEAD,
    Stage.MQL,
    Stage.SAL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.CUSTOMER,
)


class Seniority(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    ENTRY = "entry", _("Entry")
    SENIOR = "senior", _("Senior")
    MANAGER = "manager", _("Manager")
    DIRECTOR = "director", _("Director")
    VP = "vp", _("VP")
    CXO = "cxo", _("C-level")
    OWNER = "owner", _("Owner")


class Company(models.Model):
    """An organisation, unique by web domain; it carries the fit attributes."""

    domain = models.CharField(max_length=253, unique=True)
    name = models.CharField(max_length=200)
    sector = models.CharField(max_length=100, blank=True, db_index=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2"))
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    annual_revenue_currency = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name or self.domain


class Lead(models.Model):
    """One person, unique by normalised e-mail (or by external id when there is no e-mail)."""

    email = models.EmailField(max_length=254, null=True, blank=True, unique=True)
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=200, blank=True, help_text=_("Job title / role"))
    seniority = models.CharField(
        max_length=20, choices=Seniority.choices, blank=True, default=Seniority.UNKNOWN
    )
    phone = models.CharField(max_length=40, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2"))
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )

    stage = models.CharField(
        max_length=20, choices=Stage.choices, default=Stage.LEAD, db_index=True
    )
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    cycle = models.PositiveIntegerField(
        default=0, help_text=_("How many times the lead became MQL")
    )
    # First and latest entry into each stage (METRICS.md, "Lead cycle"); StageChange keeps all.
    lead_first_at = models.DateTimeField(null=True, blank=True)
    mql_first_at = models.DateTimeField(null=True, blank=True)
    mql_last_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sal_first_at = models.DateTimeField(null=True, blank=True)
    sal_last_at = models.DateTimeField(null=True, blank=True)
    sql_first_at = models.DateTimeField(null=True, blank=True)
    sql_last_at = models.DateTimeField(null=True, blank=True)
    opportunity_first_at = models.DateTimeField(null=True, blank=True)
    opportunity_last_at = models.DateTimeField(null=True, blank=True)
    customer_first_at = models.DateTimeField(null=True, blank=True)
    nurture_last_at = models.DateTimeField(null=True, blank=True)
    disqualified_last_at = models.DateTimeField(null=True, blank=True)
    requalify_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "A recycled lead may qualify again only after this time (hand-raisers excepted)"
        ),
    )

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
    )
    queue = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="queued_leads",
        help_text=_("The team queue that owns the lead when no person does"),
    )
    source = models.CharField(
        max_length=100, blank=True, db_index=True, help_text=_("First-touch source")
    )
    source_detail = models.CharField(
        max_length=200, blank=True, help_text=_("First-touch campaign or referrer")
    )
    attributes = models.JSONField(default=dict, blank=True, help_text=_("Custom attributes"))

    consent_given = models.BooleanField(default=False)
    consent_text = models.TextField(blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(external_id__isnull=False),
                name="lead_has_email_or_external_id",
            ),
            # leads.services.email_normalize is the only spelling a stored e-mail may have.
            models.CheckConstraint(
                condition=Q(email__isnull=True) | Q(email=Lower(Trim("email"))),
                name="lead_email_normalized",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "stage"], name="lead_owner_stage"),
            models.Index(fields=["stage", "created_at"], name="lead_stage_created"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.external_id or f"Lead {self.pk}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("web:lead_detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class AttributeType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    BOOLEAN = "boolean", _("Yes/no")
    DATE = "date", _("Date")
    CATEGORY = "category", _("Category")


class AttributeDefinition(models.Model):
    """A typed custom attribute kept in ``Lead.attributes[key]``; scoring rules can use it."""

    key = models.SlugField(max_length=100, unique=True)
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=20, choices=AttributeType.choices)
    choices = models.JSONField(
        default=list, blank=True, help_text=_("Allowed values of a category")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class LeadMerge(models.Model):
    """A duplicate merged into a survivor: who, when, and everything the duplicate held."""

    survivor = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merges")
    merged_lead_id = models.BigIntegerField(help_text=_("The id the merged lead had"))
    snapshot = models.JSONField(help_text=_("The merged lead's fields as they were"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lead_merges",
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"Lead {self.merged_lead_id} merged into {self.survivor_id}"


class DuplicateDismissal(models.Model):
    """A pair of leads a person reviewed and found not to be duplicates (lower id first)."""

    lead_low = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    lead_high = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead_low", "lead_high"], name="duplicate_dismissal_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_low_id} ≠ {self.lead_high_id}"

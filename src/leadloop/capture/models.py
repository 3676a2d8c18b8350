"""Campaigns and touches: every engagement of a lead, append-only, with source and UTM."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadloop.accounts.models import ApiToken
from leadloop.content.models import ContentOffer
from leadloop.leads.models import Lead


class Channel(models.TextChoices):
    ORGANIC_SEARCH = "organic_search", _("Organic search")
    PAID_SEARCH = "paid_search", _("Paid search")
    PAID_SOCIAL = "paid_social", _("Paid social")
    SOCIAL = "social", _("Organic social")
    EMAIL = "email", _("E-mail")
    DISPLAY = "display", _("Display")
    REFERRAL = "referral", _("Referral")
    PARTNER = "partner", _("Partner")
    EVENT = "event", _("Event")
    WEBINAR = "webinar", _("Webinar")
    DIRECT = "direct", _("Direct")
    OUTBOUND = "outbound", _("Outbound")
    OTHER = "other", _("Other")


class TouchKind(models.TextChoices):
    FORM_FILL = "form_fill", _("Form fill")
    CONTENT_DOWNLOAD = "content_download", _("Content download")
    PAGE_VISIT = "page_visit", _("Page visit")
    EMAIL_OPEN = "email_open", _("E-mail open")
    EMAIL_CLICK = "email_click", _("E-mail click")
    AD_CLICK = "ad_click", _("Ad click")
    SOCIAL = "social", _("Social engagement")
    REFERRAL = "referral", _("Referral")
    EVENT = "event", _("Event attendance")
    WEBINAR = "webinar", _("Webinar attendance")
    OUTBOUND_CALL = "outbound_call", _("Outbound call")
    SALES_EMAIL = "sales_email", _("Sales e-mail")
    MEETING = "meeting", _("Meeting")
    DEMO = "demo", _("Demo")
    REPLY = "reply", _("Reply")


# Touches made by sales; everything else is a marketing touch (METRICS.md, "Attribution").
SALES_TOUCH_KINDS = frozenset(
    {TouchKind.OUTBOUND_CALL, TouchKind.SALES_EMAIL, TouchKind.MEETING, TouchKind.DEMO}
)


class Campaign(models.Model):
    """A marketing effort with a channel, a period and a cost."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True, help_text=_("Matches utm_campaign"))
    channel = models.CharField(max_length=20, choices=Channel.choices)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    cost_amount = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    cost_currency = models.CharField(max_length=3, default="EUR")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "name"]

    def __str__(self) -> str:
        return self.name


class Touch(models.Model):
    """One engagement event; append-only and idempotent by ``external_id``."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="touches")
    kind = models.CharField(max_length=20, choices=TouchKind.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    source = models.CharField(max_length=100, blank=True, help_text=_("utm_source or derived"))
    medium = models.CharField(max_length=100, blank=True, help_text=_("utm_medium or derived"))
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    referrer = models.URLField(max_length=2000, blank=True)
    landing_page = models.URLField(max_length=2000, blank=True)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="touches"
    )
    content_offer = models.ForeignKey(
        ContentOffer, null=True, blank=True, on_delete=models.SET_NULL, related_name="touches"
    )
    occurred_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(
        max_length=200,
        unique=True,
        help_text=_("The sender's id, or a hash of the touch's content"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="touch_lead_occurred"),
            models.Index(fields=["campaign", "occurred_at"], name="touch_campaign_occurred"),
            models.Index(fields=["occurred_at"], name="touch_occurred"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"


class Form(models.Model):
    """A capture form marketing ops builds; served at /f/<slug> and embeddable elsewhere.

    ``fields`` is a list of ``{"name", "label", "type", "required", "maps_to", "choices"}``;
    ``maps_to`` names a lead field (email, first_name, …) or ``attributes.<key>``.
    """

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    fields = models.JSONField(default=list)
    consent_text = models.TextField(blank=True)
    consent_required = models.BooleanField(default=False)
    content_offer = models.ForeignKey(
        ContentOffer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="forms",
        help_text=_("The offer this form gates"),
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="forms"
    )
    submit_label = models.CharField(max_length=100, default="Submit")
    thank_you_message = models.TextField(blank=True)
    redirect_url = models.URLField(max_length=2000, blank=True)
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Origins that may post this form, e.g. https://www.example.com"),
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SubmissionStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be captured")
    FAILED = "failed", _("Capture failed")


class FormSubmission(models.Model):
    """A public form submission received and not yet captured, or whose capture failed.

    The public endpoint checks the values against the form, stores them here and answers; a
    worker captures them (``loop.intake``) and deletes each captured row in the same
    transaction, so a captured submission lives on only as its lead and touch. A failed one
    stays, with its error, until marketing ops retries or discards it.

    ``payload``: ``lead`` (LeadData's text fields and ``attributes``, ``consent_text`` when
    consent was given) and ``touch`` (kind, page URL, referrer, campaign and offer ids,
    properties, external id), as the form mapped them when the submission arrived.
    """

    # On SQLite the submissions live in a file of their own (``common.database.QueueRouter``),
    # so no constraint ties them to the form; forms are archived, never deleted.
    form = models.ForeignKey(
        Form, on_delete=models.DO_NOTHING, db_constraint=False, related_name="submissions"
    )
    received_at = models.DateTimeField()
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=SubmissionStatus.choices, default=SubmissionStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_until = models.DateTimeField(
        null=True, blank=True, help_text=_("A worker is capturing it until then")
    )
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "id"], name="formsubmission_status_id")]

    def __str__(self) -> str:
        return f"submission {self.pk} of form {self.form_id} ({self.status})"


class IdempotencyRecord(models.Model):
    """The stored answer to an API request sent with an ``Idempotency-Key`` header."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="idempotency_token_key")
        ]

    def __str__(self) -> str:
        return self.key


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(models.Model):
    """One CSV import: its file, mapping, progress and result; resumable after a crash."""

    kind = models.CharField(max_length=20, default="leads")
    file_path = models.CharField(
        max_length=1000, help_text=_("The stored copy of the uploaded file")
    )
    file_name = models.CharField(max_length=300)
    file_sha256 = models.CharField(max_length=64)
    mapping_name = models.CharField(max_length=200)
    mapping_toml = models.TextField(help_text=_("The mapping as it was when the import started"))
    dry_run = models.BooleanField(default=False)
    update_only = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0, help_text=_("Rows processed and committed"))
    resume_row = models.PositiveIntegerField(
        default=0, help_text=_("Data rows committed: a resume skips them")
    )
    resume_offset = models.BigIntegerField(
        default=0, help_text=_("Byte offset after the last committed row")
    )
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "Last sign of life of the process running the import: a running job whose "
            "heartbeat is stale was interrupted (capture.imports.jobs.HEARTBEAT_STALE_AFTER)"
        ),
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} of {self.file_name}"


class ImportRejection(models.Model):
    """A row an import could not take: where, what, and why."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejections")
    row_number = models.PositiveIntegerField(help_text=_("1 = the first data row after the header"))
    column = models.CharField(max_length=300, blank=True)
    value = models.TextField(blank=True)
    reason = models.TextField()
    raw = models.JSONField(default=list, help_text=_("The row's cells as read"))

    class Meta:
        ordering = ["row_number", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "row_number", "column"], name="import_rejection_cell"
            ),
        ]

    def __str__(self) -> str:
        return f"Row {self.row_number}: {self.reason}"

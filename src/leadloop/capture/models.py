"""Campaigns and touches: every engagement of a lead, append-only, with source and UTM."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

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

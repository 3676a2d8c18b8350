"""Content offers marketing publishes and collateral sales uses."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ContentKind(models.TextChoices):
    EBOOK = "ebook", _("E-book")
    WHITEPAPER = "whitepaper", _("White paper")
    WEBINAR = "webinar", _("Webinar")
    CASE_STUDY = "case_study", _("Case study")
    DEMO = "demo", _("Demo")
    PRICE_SHEET = "price_sheet", _("Price sheet")
    CHECKLIST = "checklist", _("Checklist")
    VIDEO = "video", _("Video")
    BLOG_POST = "blog_post", _("Blog post")
    REPORT = "report", _("Report")


class ContentOffer(models.Model):
    """An asset: gated offers for marketing, collateral for sales, or both."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=ContentKind.choices)
    url = models.URLField(blank=True)
    description = models.TextField(blank=True)
    is_gated = models.BooleanField(default=True, help_text=_("Behind a form"))
    is_collateral = models.BooleanField(
        default=False, help_text=_("Offered to sales in the collateral library")
    )
    published_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

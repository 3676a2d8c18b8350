from django.contrib import admin

from leadloop.capture.models import Campaign, Touch


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "starts_on", "ends_on", "cost_amount", "cost_currency")
    list_filter = ("channel",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Touch)
class TouchAdmin(admin.ModelAdmin):
    """Touches are append-only: they can be read here, not changed."""

    list_display = ("lead", "kind", "channel", "source", "campaign", "occurred_at")
    list_filter = ("kind", "channel")
    raw_id_fields = ("lead", "campaign", "content_offer")

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

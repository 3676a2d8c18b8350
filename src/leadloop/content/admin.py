from django.contrib import admin

from leadloop.content.models import ContentOffer


@admin.register(ContentOffer)
class ContentOfferAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "is_gated", "is_collateral", "published_on")
    list_filter = ("kind", "is_gated", "is_collateral")
    prepopulated_fields = {"slug": ("name",)}

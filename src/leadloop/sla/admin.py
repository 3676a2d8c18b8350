from django.contrib import admin

from leadloop.sla.models import MarketingSlaResult, Notification, SlaClock, SlaMessage


@admin.register(SlaClock)
class SlaClockAdmin(admin.ModelAdmin):
    list_display = ("lead", "kind", "owner", "team", "started_at", "due_at", "outcome")
    list_filter = ("kind", "outcome")
    raw_id_fields = ("lead", "owner", "assignment", "stage_change")
    date_hierarchy = "due_at"


@admin.register(SlaMessage)
class SlaMessageAdmin(admin.ModelAdmin):
    list_display = ("subject", "purpose", "recipient", "channel", "created_at", "sent_at")
    list_filter = ("purpose", "channel")
    raw_id_fields = ("clock", "recipient")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("message", "user", "created_at", "read_at")
    raw_id_fields = ("message", "user")


@admin.register(MarketingSlaResult)
class MarketingSlaResultAdmin(admin.ModelAdmin):
    list_display = ("period_start", "period_end", "delivered", "target", "evaluated_at")

from django.contrib import admin

from leadloop.lifecycle.models import StageChange


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    """The audit log is read-only."""

    list_display = ("lead", "from_stage", "to_stage", "actor", "rule", "reason", "at")
    list_filter = ("to_stage", "reason")
    raw_id_fields = ("lead", "actor")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

"""Routing in the admin site: read-only. Owners change through routing.services only (one
Assignment each), so the admin shows the records and the counters but edits none of them."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from leadloop.routing.models import Assignment, HandoffBatch, RepLoad, RoundRobinCursor


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Assignment)
class AssignmentAdmin(_ReadOnly):
    list_display = ("lead", "kind", "assignee", "queue", "rule", "actor", "agreement_version", "at")
    list_filter = ("kind", "rule", "agreement_version")
    search_fields = ("lead__email", "assignee__username", "queue__name", "rule", "why")
    raw_id_fields = ("lead", "assignee", "previous_assignee", "actor", "stage_change")
    date_hierarchy = "at"


@admin.register(RepLoad)
class RepLoadAdmin(_ReadOnly):
    list_display = ("user", "period", "starts_on", "count")
    list_filter = ("period", "starts_on")
    search_fields = ("user__username",)


@admin.register(RoundRobinCursor)
class RoundRobinCursorAdmin(_ReadOnly):
    list_display = ("key", "position")


@admin.register(HandoffBatch)
class HandoffBatchAdmin(_ReadOnly):
    list_display = ("due_at", "agreement_version", "claimed_at", "delivered_at", "delivered")

"""The agreement in the admin site: read only. Versions change through agreements.services
(drafts, approvals of both sides), never by editing rows."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from leadloop.agreements.models import AgreementApproval, AgreementVersion


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ApprovalInline(admin.TabularInline):
    model = AgreementApproval
    extra = 0
    can_delete = False
    readonly_fields = ("side", "user", "note", "at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AgreementVersion)
class AgreementVersionAdmin(_ReadOnly):
    list_display = ("number", "title", "status", "created_by", "created_at", "effective_at")
    list_filter = ("status",)
    search_fields = ("title",)
    inlines = (ApprovalInline,)


@admin.register(AgreementApproval)
class AgreementApprovalAdmin(_ReadOnly):
    list_display = ("version", "side", "user", "at")
    list_filter = ("side",)

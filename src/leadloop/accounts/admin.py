from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join

from leadloop.accounts.models import ApiToken, OutOfOffice, Team, TeamDayOff, User
from leadloop.accounts.selectors import team_calendar
from leadloop.common.businesstime import (
    WEEKDAYS,
    SlaCalendarInvalid,
    calendar_from,
    calendar_settings,
    closed_days,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active", "is_staff")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Leadloop", {"fields": ("role", "team", "time_zone")}))  # type: ignore[misc]


_CALENDAR_FIELDS = ("time_zone", "opening_hours", "country", "subdivision")


class TeamAdminForm(forms.ModelForm):
    """Checks the business calendar as a whole (as ``team_calendar_set`` does) and stores it
    in its canonical form; each error is shown beside the field it names."""

    class Meta:
        model = Team
        fields = ("name", "kind", *_CALENDAR_FIELDS)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if any(name in self.errors for name in _CALENDAR_FIELDS):
            return data
        try:
            cal = calendar_from(
                time_zone=data.get("time_zone") or "",
                opening_hours=data.get("opening_hours") or {},
                country=data.get("country") or "",
                subdivision=data.get("subdivision") or "",
            )
        except SlaCalendarInvalid as exc:
            named = str(exc.loc[0]) if exc.loc else ""
            self.add_error(named if named in _CALENDAR_FIELDS else None, exc.message)
        else:
            data.update(calendar_settings(cal))
        return data


class TeamDayOffInline(admin.TabularInline):
    model = TeamDayOff
    extra = 0
    fields = ("on", "name")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    form = TeamAdminForm
    list_display = ("name", "kind", "time_zone", "country", "subdivision", "hours")
    list_filter = ("kind", "country")
    fieldsets = (
        (None, {"fields": ("name", "kind")}),
        (
            "Business calendar",
            {
                "fields": (*_CALENDAR_FIELDS, "upcoming_closed_days"),
                "description": "SLA clocks run only while the team is open: these hours in its"
                " time zone, minus the public holidays of its country and subdivision and the"
                " days off below.",
            },
        ),
    )
    readonly_fields = ("upcoming_closed_days",)
    inlines = (TeamDayOffInline,)

    @admin.display(description="Opening hours")
    def hours(self, team: Team) -> str:
        """The hours as "Mon-Fri 09:00-17:30": consecutive weekdays with equal hours grouped."""
        groups: list[tuple[int, int, str]] = []
        for day in range(7):
            pair = (team.opening_hours or {}).get(str(day))
            if not pair:
                continue
            text = f"{pair[0]}-{pair[1]}"
            if groups and groups[-1][1] == day - 1 and groups[-1][2] == text:
                groups[-1] = (groups[-1][0], day, text)
            else:
                groups.append((day, day, text))
        return ", ".join(
            f"{WEEKDAYS[first][:3]}{'' if first == last else '-' + WEEKDAYS[last][:3]} {text}"
            for first, last, text in groups
        )

    @admin.display(description="Closed in the next 90 days")
    def upcoming_closed_days(self, team: Team) -> str:
        if team.pk is None:
            return "-"
        try:
            cal = team_calendar(team)
        except SlaCalendarInvalid as exc:
            return exc.message
        today = timezone.now().astimezone(cal.tz).date()
        found = closed_days(today, today + timedelta(days=90), cal)
        if not found:
            return "No holidays or days off on open weekdays."
        return format_html_join(
            "", "<div>{} {}</div>", ((f"{day.on:%a %d %b %Y}", day.reason) for day in found)
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_hash", "prefix", "created_at", "last_used_at")


@admin.register(TeamDayOff)
class TeamDayOffAdmin(admin.ModelAdmin):
    list_display = ("on", "team", "name")
    list_filter = ("team",)
    search_fields = ("name", "team__name")
    date_hierarchy = "on"


@admin.register(OutOfOffice)
class OutOfOfficeAdmin(admin.ModelAdmin):
    list_display = ("user", "starts_at", "ends_at", "note", "created_by")
    list_filter = ("user__team",)
    search_fields = ("user__username", "user__first_name", "user__last_name", "note")
    autocomplete_fields = ("user",)
    readonly_fields = ("created_by", "created_at")
    date_hierarchy = "starts_at"

    def save_model(self, request: HttpRequest, obj: OutOfOffice, form: Any, change: bool) -> None:
        if not change and obj.created_by_id is None and request.user.is_authenticated:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

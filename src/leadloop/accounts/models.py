"""Users, the teams they belong to, their roles, and API tokens."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MARKETING_OPS = "marketing_ops", _("Marketing ops")
    SALES_REP = "sales_rep", _("Sales rep")
    SALES_MANAGER = "sales_manager", _("Sales manager")
    REVENUE_LEADER = "revenue_leader", _("Revenue leader")
    ADMIN = "admin", _("Admin")


class TeamKind(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")


def _default_opening_hours() -> dict[str, list[str]]:
    return {str(day): ["09:00", "17:30"] for day in range(5)}


class Team(models.Model):
    """A marketing or sales team; its time zone and country drive its business calendar."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=TeamKind.choices)
    time_zone = models.CharField(max_length=64, default="Europe/Berlin")
    country = models.CharField(
        max_length=2, default="DE", help_text=_("ISO 3166-1 alpha-2, for public holidays")
    )
    subdivision = models.CharField(
        max_length=40, blank=True, help_text=_("State or region, for regional holidays")
    )
    opening_hours = models.JSONField(
        default=_default_opening_hours,
        blank=True,
        help_text=_('Weekday (0 = Monday) to ["HH:MM", "HH:MM"] local opening and closing times'),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in: marketing ops, sales rep, sales manager, revenue leader or admin."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.SALES_REP)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    time_zone = models.CharField(
        max_length=64, blank=True, help_text=_("Empty: the team's time zone")
    )

    class Meta:
        ordering = ["first_name", "last_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_sales(self) -> bool:
        return self.role in (Role.SALES_REP, Role.SALES_MANAGER)


class ApiToken(models.Model):
    """A bearer token for the REST API. Only its SHA-256 is stored; the key is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=12, help_text=_("The first characters, to recognise a token")
    )
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TeamDayOff(models.Model):
    """A day the whole team is closed beyond public holidays (company day off, offsite)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="days_off")
    on = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["on"]
        constraints = [models.UniqueConstraint(fields=["team", "on"], name="team_day_off_unique")]

    def __str__(self) -> str:
        return f"{self.team}: {self.on:%Y-%m-%d} {self.name}".strip()


class OutOfOffice(models.Model):
    """A person away from `starts_at` to `ends_at`: routing skips them, SLA clocks may pause."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="out_of_office"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["user", "ends_at"], name="ooo_user_ends")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="ooo_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} away {self.starts_at:%Y-%m-%d} to {self.ends_at:%Y-%m-%d}"

"""Reads of accounts shared by the UI, the API and the command line."""

from __future__ import annotations

from django.db.models import F, QuerySet

from leadloop.accounts.models import ApiToken, Role, Team, TeamDayOff, User
from leadloop.common.businesstime import BusinessCalendar, SlaCalendarInvalid, calendar_from


def token_list(*, user: User) -> QuerySet[ApiToken]:
    """`user`'s API tokens: active ones first, newest first."""
    # NULLS FIRST spelled out: SQLite and PostgreSQL disagree on where NULL sorts.
    return ApiToken.objects.filter(user=user).order_by(
        F("revoked_at").asc(nulls_first=True), "-created_at", "-id"
    )


def token_owner(*, token_id: int) -> User | None:
    """The user a token belongs to, or None when there is no such token."""
    return User.objects.filter(api_tokens__pk=token_id).first()


def user_by_username(*, username: str) -> User | None:
    """The user with this username, or None."""
    return User.objects.filter(username=username).first()


def sales_people() -> QuerySet[User]:
    """Active sales reps and managers: the people a lead can be owned by."""
    return User.objects.filter(is_active=True, role__in=[Role.SALES_REP, Role.SALES_MANAGER])


def team_calendar(team: Team) -> BusinessCalendar:
    """`team`'s business calendar: its time zone, opening hours, the public holidays of its
    country and subdivision, and its company days off (`TeamDayOff`).

    One query. Raises `SlaCalendarInvalid` naming the team and the field when the stored
    settings are invalid (they are checked on the way in by ``team_calendar_set``).
    """
    days_off = TeamDayOff.objects.filter(team=team).values_list("on", flat=True)
    try:
        return calendar_from(
            time_zone=team.time_zone,
            opening_hours=team.opening_hours,
            country=team.country,
            subdivision=team.subdivision,
            days_off=list(days_off),
        )
    except SlaCalendarInvalid as exc:
        raise SlaCalendarInvalid(f"Team {team.name!r}: {exc.message}", loc=exc.loc) from exc

"""Reads of accounts shared by the UI, the API and the command line."""

from __future__ import annotations

from django.db.models import F, QuerySet

from leadloop.accounts.models import ApiToken, Role, User


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

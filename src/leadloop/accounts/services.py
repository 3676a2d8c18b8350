"""Use cases of accounts: API tokens.

A token is ``ll_<prefix>_<secret>``; only the SHA-256 of the whole key is stored, so a leaked
database does not leak working tokens. The key is returned once, when it is created.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from leadloop.accounts.models import ApiToken, Role, Team, TeamKind, User
from leadloop.common.businesstime import SlaCalendarInvalid, calendar_from, calendar_settings
from leadloop.common.errors import LeadloopError, NotFound, PermissionDenied

TOKEN_PREFIX = "ll_"
SCOPES: tuple[str, ...] = (
    "leads:read",
    "leads:write",
    "touches:write",
    "reports:read",
    "leads:move",
    "leads:assign",
    "leads:merge",
    "agreement:write",
)


class TokenScopeUnknown(LeadloopError):
    code = "token_scope_unknown"


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown once; never stored


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def token_create(*, user: User, name: str, scopes: list[str] | None = None) -> IssuedToken:
    """Create an API token for `user`; the returned key is the only copy of the secret."""
    chosen = list(SCOPES) if scopes is None else scopes
    unknown = sorted(set(chosen) - set(SCOPES))
    if unknown:
        raise TokenScopeUnknown(
            f"Unknown scope {unknown[0]!r}; the scopes are: {', '.join(SCOPES)}.", loc=("scopes",)
        )
    prefix = secrets.token_hex(4)
    key = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user,
        name=name.strip() or "API token",
        prefix=prefix,
        key_hash=_hash(key),
        scopes=chosen,
    )
    return IssuedToken(token=token, key=key)


def token_authenticate(*, key: str) -> ApiToken | None:
    """The active token for `key` (and its user), or None; records when it was last used."""
    if not key.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    # Write at most once a minute per token, so a busy client does not turn reads into writes.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of `user`'s tokens (an admin may revoke anyone's). Idempotent."""
    tokens = ApiToken.objects.all() if user.is_superuser else ApiToken.objects.filter(user=user)
    token = tokens.filter(pk=token_id).first()
    if token is None:
        raise NotFound(f"No API token with id {token_id}.", loc=("token_id",))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def team_queue(*, name: str, kind: TeamKind) -> Team:
    """The team called `name`, created (of `kind`) when it does not exist yet: the queue the
    agreement names must exist for a lead to be owned by it."""
    team, _created = Team.objects.get_or_create(name=name, defaults={"kind": kind})
    return team


# --- business calendars -------------------------------------------------------------------------

# Who may change any team's business calendar; a sales manager or marketing ops only their own.
_CALENDAR_EVERY_TEAM = frozenset({Role.ADMIN, Role.REVENUE_LEADER})
_CALENDAR_OWN_TEAM = frozenset({Role.SALES_MANAGER, Role.MARKETING_OPS})


def _calendar_refusal(actor: User | None, team: Team) -> str | None:
    if actor is None or actor.is_superuser or actor.role in _CALENDAR_EVERY_TEAM:
        return None
    if actor.role in _CALENDAR_OWN_TEAM and actor.team_id == team.pk:
        return None
    return (
        f"{actor} cannot change the business calendar of {team.name}: only admins, revenue"
        " leaders and the team's own sales manager or marketing ops can."
    )


@transaction.atomic
def team_calendar_set(
    *,
    team: Team,
    opening_hours: Mapping[str, Any],
    country: str,
    subdivision: str,
    time_zone: str,
    actor: User | None,
) -> Team:
    """Set `team`'s business calendar (opening hours, holiday country and subdivision, time
    zone) after checking it as a whole, storing its canonical form ("HH:MM" hours keyed "0" to
    "6", upper-case country, the holidays package's subdivision code). Days off are rows of
    their own (``TeamDayOff``). `actor` None is the system.

    Raises PermissionDenied when `actor` may not change this team's calendar, and
    SlaCalendarInvalid naming the field ("opening_hours.2: closes 08:00 is not after opens
    09:00") when the calendar is invalid; the team is then left unchanged.
    """
    refusal = _calendar_refusal(actor, team)
    if refusal is not None:
        raise PermissionDenied(refusal, loc=("team",))
    stored = calendar_settings(
        calendar_from(
            time_zone=time_zone,
            opening_hours=opening_hours,
            country=country,
            subdivision=subdivision,
        )
    )
    longest = Team._meta.get_field("subdivision").max_length or 0
    if len(stored["subdivision"]) > longest:
        raise SlaCalendarInvalid(
            f"subdivision: {stored['subdivision']!r} is longer than the {longest} characters"
            " a team can store; leave it empty for the country's national holidays.",
            loc=("subdivision",),
        )
    for name, value in stored.items():
        setattr(team, name, value)
    team.save(update_fields=list(stored))
    return team

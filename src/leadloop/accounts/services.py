"""Use cases of accounts: API tokens.

A token is ``ll_<prefix>_<secret>``; only the SHA-256 of the whole key is stored, so a leaked
database does not leak working tokens. The key is returned once, when it is created.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from leadloop.accounts.models import ApiToken, User
from leadloop.common.errors import LeadloopError, NotFound

TOKEN_PREFIX = "ll_"
SCOPES: tuple[str, ...] = ("leads:read", "leads:write", "touches:write", "reports:read")


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

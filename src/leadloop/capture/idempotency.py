"""Safe retries of API writes: the stored answer to a request sent with an ``Idempotency-Key``.

    request with key K ─┬─ no record for (token, K) → do the work, store (hash, status, body)
                        ├─ record, same body hash   → the stored status and body, no work
                        └─ record, other body hash  → IdempotencyKeyReused (409)

The work and the record share one transaction: when two requests with the same key race, the
loser's insert of the record fails (PostgreSQL waits for the winner's commit; SQLite's
IMMEDIATE transactions run one after the other), its work is rolled back, and it answers with
the winner's stored response. Only successful answers are stored: a refused request wrote
nothing, so it may be retried with the same key, corrected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.db import IntegrityError, transaction

from leadloop.accounts.models import ApiToken
from leadloop.capture.models import IdempotencyRecord
from leadloop.common.errors import Conflict, LeadloopError

KEY_MAX_LENGTH: Final = 200
HEADER: Final = "Idempotency-Key"
_LOC: Final = ("header", HEADER)


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class IdempotencyKeyInvalid(LeadloopError):
    code = "idempotency_key_invalid"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any  # JSON


class _LostRace(Exception):
    """Another request stored an answer under the same key first."""


def request_hash(*, method: str, path: str, body: bytes) -> str:
    """SHA-256 of what makes a request this request: method, path and the body's bytes."""
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def idempotency_key_check(key: str) -> str:
    """`key` trimmed; raises IdempotencyKeyInvalid naming the header when empty or too long."""
    stripped = key.strip()
    if not stripped or len(stripped) > KEY_MAX_LENGTH:
        raise IdempotencyKeyInvalid(
            f"The {HEADER} header must be 1 to {KEY_MAX_LENGTH} characters "
            f"(got {len(stripped)}); a UUID is a good key.",
            loc=_LOC,
        )
    return stripped


def idempotency_lookup(*, token: ApiToken, key: str, request_hash: str) -> StoredResponse | None:
    """The stored answer to (token, key), or None; raises IdempotencyKeyReused on another body."""
    record = IdempotencyRecord.objects.filter(token=token, key=key).first()
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise IdempotencyKeyReused(
            f"The {HEADER} {key!r} was already used for a different request (another body or "
            f"endpoint) at {record.created_at.isoformat()}; use a new key for a new request.",
            loc=_LOC,
        )
    return StoredResponse(status=record.status_code, body=record.response)


def idempotency_store(
    *, token: ApiToken, key: str, request_hash: str, response: StoredResponse
) -> IdempotencyRecord:
    """Store the answer to (token, key); raises IntegrityError when one is stored already."""
    return IdempotencyRecord.objects.create(
        token=token,
        key=key,
        request_hash=request_hash,
        status_code=response.status,
        response=response.body,
    )


def idempotent_run(
    *,
    token: ApiToken,
    key: str | None,
    request_hash: str,
    work: Callable[[], StoredResponse],
) -> StoredResponse:
    """Run `work` once per (token, key): a retry with the same request gets the stored answer.

    Without a key, `work` simply runs. Raises IdempotencyKeyReused (a different request under
    the key), IdempotencyKeyInvalid, and whatever `work` raises (then nothing is stored).
    """
    if key is None:
        return work()
    key = idempotency_key_check(key)
    try:
        with transaction.atomic():
            stored = idempotency_lookup(token=token, key=key, request_hash=request_hash)
            if stored is not None:
                return stored
            response = work()
            if 200 <= response.status < 300:
                try:
                    with transaction.atomic():
                        idempotency_store(
                            token=token, key=key, request_hash=request_hash, response=response
                        )
                except IntegrityError:
                    raise _LostRace from None  # roll back this request's work
            return response
    except _LostRace:
        stored = idempotency_lookup(token=token, key=key, request_hash=request_hash)
        if stored is None:  # pragma: no cover - the winner's record cannot vanish
            raise
        return stored


def idempotency_prune(*, before: datetime) -> int:
    """Delete the answers stored before `before`; returns how many. Run it from a task."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=before).delete()
    return deleted

"""The signature of a webhook body: ``v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>">``.

The receiver recomputes it with the endpoint's secret over the raw bytes it received and the
``X-Leadloop-Timestamp`` header, compares in constant time, and refuses a timestamp older
than a few minutes so that a captured request cannot be replayed later. This module uses
only the standard library, so an integrator can copy it (docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Final

SCHEME: Final = "v1"
DEFAULT_TOLERANCE: Final = 300  # seconds


def _digest(secret: str, timestamp: int | str, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The ``X-Leadloop-Signature`` value of `body` sent at `timestamp` (Unix seconds)."""
    return f"{SCHEME}={_digest(secret, timestamp, body)}"


def verify(
    secret: str,
    timestamp: int | str,
    body: bytes,
    signature: str,
    tolerance: int = DEFAULT_TOLERANCE,
    *,
    now: float | None = None,
) -> bool:
    """Whether `signature` signs `body` at `timestamp` with `secret`, and the timestamp is
    within `tolerance` seconds of `now` (default: the current time).

    `signature` may hold several comma-separated ``v1=`` values; one match is enough.
    """
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    expected = _digest(secret, sent_at, body)
    found = False
    for part in signature.split(","):
        scheme, _, value = part.strip().partition("=")
        # compare_digest on every candidate: no early exit that a timer could measure.
        if scheme == SCHEME and hmac.compare_digest(
            value.encode("ascii", "replace"), expected.encode("ascii")
        ):
            found = True
    return found

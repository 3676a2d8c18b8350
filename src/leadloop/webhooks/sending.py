"""One HTTP attempt of a webhook delivery, and the wait before the next one.

Only ``services`` calls this; it never touches the database, so the request is never made
inside a transaction or while a row is locked.
"""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import httpx

USER_AGENT: Final = "Leadloop-Webhooks/1"

# The wait after failed attempt n is BACKOFF[n - 1]; after the last entry, a day each time.
BACKOFF: Final[tuple[timedelta, ...]] = (
    timedelta(seconds=10),
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
)
BACKOFF_CEILING: Final = timedelta(hours=24)

_EXCERPT_BYTES: Final = 2048  # of the receiver's answer, kept for the delivery log
_EXCERPT_CHARS: Final = 500


def retry_delay(attempt: int) -> timedelta:
    """How long to wait after failed attempt number `attempt` (1-based)."""
    return BACKOFF[attempt - 1] if attempt <= len(BACKOFF) else BACKOFF_CEILING


@dataclass(frozen=True)
class AttemptResult:
    """What the receiver did: answered with `status_code`, or failed with `error`."""

    status_code: int | None
    error: str
    ms: int
    response: str  # the start of the answer's body

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _excerpt(response: httpx.Response) -> str:
    """The start of the body; a receiver that stalls after its status line costs no attempt."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= _EXCERPT_BYTES:
                break
    except httpx.HTTPError:
        pass
    return b"".join(chunks)[:_EXCERPT_BYTES].decode("utf-8", "replace")[:_EXCERPT_CHARS]


@functools.cache
def _tls() -> ssl.SSLContext:
    """The CA bundle (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), loaded once per process:
    loading it costs ~0.1 s, more than a whole attempt to a nearby receiver."""
    return httpx.create_ssl_context(trust_env=True)


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float) -> AttemptResult:
    """POST `body` to `url` once: no redirects followed, `timeout` seconds to connect and for
    each read or write. Never raises for a network problem: it is the result's `error`."""
    status_code: int | None = None
    error = ""
    excerpt = ""
    started = time.perf_counter()
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, verify=_tls()) as client,
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            status_code = response.status_code
            excerpt = _excerpt(response)
    except httpx.TimeoutException:
        error = f"Timed out: no answer within {timeout:g} s"
    except httpx.ConnectError as e:
        error = f"Could not connect: {e}"
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        error = f"{type(e).__name__}: {e}"
    if status_code is not None and not 200 <= status_code < 300:
        phrase = httpx.codes.get_reason_phrase(status_code)
        error = f"HTTP {status_code} {phrase}".strip()
    ms = round((time.perf_counter() - started) * 1000)
    return AttemptResult(status_code=status_code, error=error, ms=ms, response=excerpt)

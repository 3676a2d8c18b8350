"""The progress of the background rescore, kept in the shared cache (one small entry)."""

from __future__ import annotations

from typing import Final, TypedDict

from django.core.cache import cache
from django.utils import timezone

_KEY: Final = "leadloop:scoring:rescore"
_TTL: Final = 7 * 24 * 3600


class RescoreProgress(TypedDict):
    cause: str
    done: int
    total: int
    running: bool
    at: str  # ISO 8601, when last written


def rescore_progress_set(*, cause: str, done: int, total: int, running: bool) -> None:
    """Record how far the rescore for `cause` got (written between chunks, after commit)."""
    cache.set(
        _KEY,
        RescoreProgress(
            cause=cause, done=done, total=total, running=running, at=timezone.now().isoformat()
        ),
        _TTL,
    )


def rescore_progress() -> RescoreProgress | None:
    """The latest rescore's progress, or None when none ran recently."""
    value = cache.get(_KEY)
    return value if isinstance(value, dict) else None  # type: ignore[return-value]

"""Small per-process caches of settings-like rows that every capture reads (the agreement in
force, the marketing queue, the webhook endpoints).

A value lives LEADLOOP_CONFIG_CACHE_SECONDS (default 5) in each process: a change made in one
process is seen by the others within that time, and at once by the process that made it (its
service clears the caches). Only rows that were read, never rows created in the current
transaction, may be cached: a rolled-back transaction must not leave a cached row behind.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

from django.conf import settings

T = TypeVar("T")

_ALL: list[ProcessCache[object]] = []


class ProcessCache(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._values: dict[object, tuple[float, T]] = {}
        self._lock = threading.Lock()
        _ALL.append(self)  # type: ignore[arg-type]

    def get(self, key: object = None) -> T | None:
        ttl = float(getattr(settings, "LEADLOOP_CONFIG_CACHE_SECONDS", 5))
        with self._lock:
            hit = self._values.get(key)
        if hit is None or time.monotonic() - hit[0] >= ttl:
            return None
        return hit[1]

    def set(self, value: T, key: object = None) -> T:
        with self._lock:
            self._values[key] = (time.monotonic(), value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def process_caches_clear() -> None:
    """Forget every cached value in this process (after a change; between tests)."""
    for cache in _ALL:
        cache.clear()

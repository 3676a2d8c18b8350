"""The database connection from ``DATABASE_URL``: SQLite (WAL) when unset, else PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA foreign_keys=ON;"
    "PRAGMA cache_size=-64000;"
    "PRAGMA temp_store=MEMORY;"
)


def database_config(url: str | None, *, data_dir: Path) -> dict[str, Any]:
    """One entry of ``DATABASES`` for `url`; an SQLite file in `data_dir` when `url` is empty."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return sqlite_config(data_dir / "leadloop.sqlite3")
    if url.startswith("sqlite:"):
        parsed = dj_database_url.parse(url)
        return sqlite_config(Path(parsed["NAME"]))
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        config = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
        config["ENGINE"] = "django.db.backends.postgresql"
        return config
    scheme = url.split(":", 1)[0]
    raise ImproperlyConfigured(
        f"DATABASE_URL uses the scheme {scheme!r}: use postgres://USER:PASSWORD@HOST:PORT/NAME, "
        "sqlite:///PATH, or leave it unset for the built-in SQLite file."
    )


def sqlite_config(path: Path) -> dict[str, Any]:
    """SQLite in WAL mode, with a busy timeout and IMMEDIATE transactions.

    IMMEDIATE takes the write lock when a transaction starts, so two writers wait for each
    other (up to the timeout) instead of failing half-way with "database is locked".
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": SQLITE_PRAGMAS,
        },
        "TEST": {"NAME": None},
    }

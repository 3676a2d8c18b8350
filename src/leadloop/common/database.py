"""The database connection from ``DATABASE_URL``: SQLite (WAL) when unset, else PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA foreign_keys=ON;"
    "PRAGMA cache_size=-64000;"
    "PRAGMA temp_store=MEMORY;"
)


# PostgreSQL: a statement run through ``prepared_cursor`` this many times on one connection is
# prepared there (parsed and planned once). The ORM's cursors bind on the client and never
# prepare, whatever this says.
PREPARE_THRESHOLD = 2


def database_config(url: str | None, *, data_dir: Path, prepared: bool = True) -> dict[str, Any]:
    """One entry of ``DATABASES`` for `url`; an SQLite file in `data_dir` when `url` is empty.
    `prepared` False: no prepared statements on PostgreSQL (behind a connection pooler in
    transaction mode that cannot keep them, such as PgBouncer before 1.21)."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return sqlite_config(data_dir / "leadloop.sqlite3")
    if url.startswith("sqlite:"):
        parsed = dj_database_url.parse(url)
        return sqlite_config(Path(parsed["NAME"]))
    if url.startswith(("postgres://", "postgresql://", "pgsql://")):
        config: dict[str, Any] = dict(
            dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        )
        config["ENGINE"] = "django.db.backends.postgresql"
        if prepared:
            config.setdefault("OPTIONS", {})["prepare_threshold"] = PREPARE_THRESHOLD
        return config
    scheme = url.split(":", 1)[0]
    raise ImproperlyConfigured(
        f"DATABASE_URL uses the scheme {scheme!r}: use postgres://USER:PASSWORD@HOST:PORT/NAME, "
        "sqlite:///PATH, or leave it unset for the built-in SQLite file."
    )


def prepared_cursor(conn: BaseDatabaseWrapper | None = None) -> CursorWrapper:
    """A cursor for a hot path's own SQL: on PostgreSQL its parameters are bound by the server,
    so a statement it runs often is prepared on the connection and planned once, not at every
    call (unless prepared statements are off: ``LEADLOOP_DB_PREPARED=false``). Elsewhere, the
    connection's usual cursor. Its statements must say the type of a parameter PostgreSQL
    cannot infer from its place (a NULL in a SELECT list: ``CAST(%s AS bigint)``). Logged
    and wrapped as the ORM's cursors are (``connection.queries``, execute wrappers, errors).
    `conn`: the default connection unless given."""
    if conn is None:
        from django.db import connections  # not at import: the settings import this module

        conn = connections["default"]
    if conn.vendor != "postgresql":
        return conn.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    conn.ensure_connection()
    # (django-stubs types this class without psycopg's constructor.)
    raw: Any = ServerBindingCursor(conn.connection)  # type: ignore[call-arg]
    return conn.make_debug_cursor(raw) if conn.queries_logged else conn.make_cursor(raw)


def sqlite_config(path: Path) -> dict[str, Any]:
    """SQLite in WAL mode, with a busy timeout and IMMEDIATE transactions.

    IMMEDIATE takes the write lock when a transaction starts, so two writers wait for each
    other (up to the timeout) instead of failing half-way with "database is locked".
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        # Kept between requests: opening one runs the PRAGMAs above, and closing the last
        # connection to the file checkpoints the whole WAL inside that request.
        "CONN_MAX_AGE": 60,
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": SQLITE_PRAGMAS,
        },
        "TEST": {"NAME": None},
    }

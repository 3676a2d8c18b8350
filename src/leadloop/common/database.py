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


# On SQLite, what is written most often and by the most processes at once lives in a file of
# its own beside the main one, the queue file: public form submissions (capture.FormSubmission)
# and the database task backend's queue (django_tasks_db). SQLite has one writer per file: in
# the main file the form endpoint's one-row INSERT, and each web process's request for a
# capture task, waited for the capture worker's batch transactions (leads, changes, touches),
# which hold the lock for a tenth of a second each. PostgreSQL locks rows, so there everything
# stays in the main database (no "queue" alias; the router then sends everything to
# "default"). Code that enqueues a task in a transaction does it on commit already, as the
# Redis backend needs.
QUEUE = "queue"
_QUEUE_APPS = frozenset({"django_tasks_database"})  # django_tasks_db's label
_QUEUE_MODELS = frozenset({"capture.formsubmission"})


def queue_database(default: dict[str, Any]) -> dict[str, Any] | None:
    """The ``DATABASES`` entry of the queue file beside `default`'s SQLite file; None for
    PostgreSQL."""
    if not default["ENGINE"].endswith("sqlite3"):
        return None
    path = Path(default["NAME"])
    return sqlite_config(path.with_name(f"{path.stem}-queue{path.suffix or '.sqlite3'}"))


def queue_alias() -> str:
    """The alias of the queue's database: "queue" where it is configured, else "default"."""
    from django.conf import settings

    return QUEUE if QUEUE in settings.DATABASES else "default"


def _queued(app_label: str, model_name: str | None) -> bool:
    return app_label in _QUEUE_APPS or f"{app_label}.{model_name}" in _QUEUE_MODELS


class QueueRouter:
    """Form submissions and the task queue in the queue database (when there is one),
    everything else in "default".

    A submission's form is a reference across the two files (no foreign key constraint):
    forms are archived, never deleted.
    """

    def _queued(self, model_or_obj: Any) -> bool:
        # (The database cache routes a stand-in whose _meta has no label; a relation may be
        # set from a lazy object, request.user.)
        meta = model_or_obj._meta
        return hasattr(meta, "label_lower") and _queued(meta.app_label, meta.model_name)

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        # Every other model is in "default", also when reached from a submission (Django would
        # otherwise look a submission's form up in the submission's database).
        return queue_alias() if self._queued(model) else "default"

    db_for_write = db_for_read

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return True if self._queued(obj1) or self._queued(obj2) else None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if queue_alias() == "default":
            return None
        if _queued(app_label, model_name):
            return db == QUEUE
        return False if db == QUEUE else None


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

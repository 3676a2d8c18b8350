from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler, ProgrammingError
from django.test.utils import CaptureQueriesContext

from leadloop.common.database import database_config, prepared_cursor, sqlite_config
from tests.conftest import unavailable

_POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://")


def _postgres_url() -> str:
    """The PostgreSQL server to test against: LEADLOOP_TEST_POSTGRES_URL, else DATABASE_URL."""
    for name in ("LEADLOOP_TEST_POSTGRES_URL", "DATABASE_URL"):
        url = os.environ.get(name, "")
        if url.startswith(_POSTGRES_SCHEMES):
            return url
    unavailable(
        "PostgreSQL not configured: set LEADLOOP_TEST_POSTGRES_URL=postgres://USER:PASSWORD@HOST:PORT/NAME "
        "(or run the suite with DATABASE_URL=postgres://…)"
    )
    raise AssertionError("unreachable")


@pytest.fixture
def open_connection(django_db_blocker: Any) -> Iterator[Any]:
    """Open a Django connection for a `DATABASES` entry outside the test database."""
    handlers: list[ConnectionHandler] = []

    def open_(config: dict[str, Any]) -> BaseDatabaseWrapper:
        handler = ConnectionHandler({"default": config})
        handlers.append(handler)
        wrapper: BaseDatabaseWrapper = handler["default"]
        wrapper.ensure_connection()
        return wrapper

    with django_db_blocker.unblock():
        yield open_
        for handler in handlers:
            handler.close_all()


def test_unset_database_url_means_an_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    config = database_config(None, data_dir=tmp_path / "var")

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "var" / "leadloop.sqlite3")
    assert (tmp_path / "var").is_dir()


def test_sqlite_connections_use_wal_and_a_busy_timeout(
    tmp_path: Path, open_connection: Any
) -> None:
    wrapper = open_connection(sqlite_config(tmp_path / "leadloop.sqlite3"))

    with wrapper.cursor() as cursor:
        journal_mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        busy_timeout_ms = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
        foreign_keys = cursor.execute("PRAGMA foreign_keys").fetchone()[0]

    assert (journal_mode, busy_timeout_ms, foreign_keys) == ("wal", 30_000, 1)


def test_sqlite_connections_outlive_a_request(tmp_path: Path, open_connection: Any) -> None:
    # What Django does at the end of every request: the connection stays open (its PRAGMAs
    # are not run again, the WAL not checkpointed at each close) until it is 60 s old.
    wrapper = open_connection(sqlite_config(tmp_path / "leadloop.sqlite3"))
    opened = wrapper.connection

    wrapper.close_if_unusable_or_obsolete()

    assert wrapper.connection is opened
    wrapper.close_at = 0  # older than CONN_MAX_AGE
    wrapper.close_if_unusable_or_obsolete()
    assert wrapper.connection is None


def test_sqlite_url_names_the_file(tmp_path: Path) -> None:
    config = database_config(f"sqlite:///{tmp_path}/other.sqlite3", data_dir=tmp_path)

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == f"{tmp_path}/other.sqlite3"


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "pgsql"])
def test_postgres_url_means_the_postgresql_engine(scheme: str, tmp_path: Path) -> None:
    config = database_config(f"{scheme}://ll:secret@db.internal:6543/leads", data_dir=tmp_path)

    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["USER"], config["PASSWORD"], config["HOST"], config["PORT"], config["NAME"]) == (
        "ll",
        "secret",
        "db.internal",
        6543,
        "leads",
    )
    assert config["CONN_HEALTH_CHECKS"] is True


def test_unknown_scheme_is_refused_naming_database_url(tmp_path: Path) -> None:
    with pytest.raises(
        ImproperlyConfigured, match=r"^DATABASE_URL uses the scheme 'mysql': use postgres://"
    ):
        database_config("mysql://ll:secret@db/leads", data_dir=tmp_path)


@pytest.mark.django_db
def test_the_suite_runs_on_the_database_that_database_url_names() -> None:
    # Never skipped: on SQLite it checks the fallback, on PostgreSQL that no fallback happened.
    # .ci/run also names the vendor it meant, so a DATABASE_URL lost on the way is caught.
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(_POSTGRES_SCHEMES) else "sqlite"

    with connection.cursor() as cursor:
        if expected == "postgresql":
            cursor.execute("SELECT current_database()")
            database_name = cursor.fetchone()[0]
        else:
            database_name = connection.settings_dict["NAME"]

    assert connection.vendor == expected
    assert connection.vendor == os.environ.get("LEADLOOP_TEST_DATABASE_VENDOR", expected)
    if expected == "postgresql":
        assert database_name == connection.settings_dict["NAME"]
        assert database_name.startswith(f"test_{database_config(url, data_dir=Path())['NAME']}")


@pytest.mark.postgres
def test_a_postgres_url_connects_django_to_that_server(open_connection: Any) -> None:
    url = _postgres_url()

    wrapper = open_connection(database_config(url, data_dir=Path()))
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int, current_user")
        version_num, user = cursor.fetchone()

    assert wrapper.vendor == "postgresql"
    assert version_num >= 130000
    assert user == database_config(url, data_dir=Path())["USER"]


@pytest.mark.postgres
def test_the_postgres_role_may_create_the_test_databases() -> None:
    url = _postgres_url()

    with psycopg.connect(url, connect_timeout=5) as conn:
        can_create_db = conn.execute(
            "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone()

    assert can_create_db == (True,)


def test_postgres_prepares_statements_unless_told_not_to(tmp_path: Path) -> None:
    url = "postgres://ll:secret@db.internal:6543/leads"

    assert database_config(url, data_dir=tmp_path)["OPTIONS"]["prepare_threshold"] == 2
    assert "prepare_threshold" not in database_config(url, data_dir=tmp_path, prepared=False).get(
        "OPTIONS", {}
    )
    assert "prepare_threshold" not in database_config(None, data_dir=tmp_path)["OPTIONS"]


def _prepared_count(wrapper: BaseDatabaseWrapper, marker: str) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{marker}%"],
        )
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
@pytest.mark.parametrize("prepared", [True, False])
def test_prepared_cursor_plans_a_repeated_statement_once(
    open_connection: Any, prepared: bool
) -> None:
    wrapper = open_connection(database_config(_postgres_url(), data_dir=Path(), prepared=prepared))
    hot = "SELECT %s::int + 1 AS hot_path_marker"
    orm = "SELECT %s::int + 2 AS orm_path_marker"

    for n in range(4):
        with prepared_cursor(wrapper) as cursor:
            cursor.execute(hot, [n])
            assert cursor.fetchone() == (n + 1,)
        with wrapper.cursor() as cursor:
            cursor.execute(orm, [n])

    # Prepared on the connection after the threshold; the ORM's client-side cursor never is.
    assert _prepared_count(wrapper, "hot_path_marker") == (1 if prepared else 0)
    assert _prepared_count(wrapper, "orm_path_marker") == 0


@pytest.mark.postgres
def test_prepared_cursor_is_logged_and_wrapped_as_the_orms(open_connection: Any) -> None:
    wrapper = open_connection(database_config(_postgres_url(), data_dir=Path()))

    with CaptureQueriesContext(wrapper) as queries, prepared_cursor(wrapper) as cursor:
        cursor.execute("SELECT %s::text AS logged", ["x"])
    with pytest.raises(ProgrammingError), prepared_cursor(wrapper) as cursor:
        cursor.execute("SELECT no_such_column FROM pg_class")

    # As the server saw it (its parameter bound there): "SELECT $1::text AS logged".
    assert [q["sql"] for q in queries.captured_queries] == ["SELECT $1::text AS logged"]


@pytest.mark.django_db
def test_prepared_cursor_elsewhere_is_the_connections_own() -> None:
    # On SQLite the usual cursor; on PostgreSQL one whose parameters the server binds.
    with prepared_cursor() as cursor:
        cursor.execute("SELECT %s + 1", [41])
        assert cursor.fetchone()[0] == 42
        bound_by_server = type(cursor.cursor).__name__ == "ServerBindingCursor"
    assert bound_by_server == (connection.vendor == "postgresql")

"""On SQLite, form submissions and the task queue live in a file of their own
(``common.database``): the form endpoint must never wait for the capture worker's (or anyone's)
write lock on the main file. On PostgreSQL they stay in the main database.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

from leadloop.capture.models import Form, FormSubmission
from leadloop.common import database
from leadloop.common.database import QUEUE, QueueRouter, queue_alias, queue_database
from leadloop.loop.intake import submission_receive
from tests.capture.form_factories import FormFactory
from tests.common.conftest import clean_environ

VALUES = {"email": "ada@analytical.example", "first_name": "Ada"}


def _tables(alias: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        return set(connections[alias].introspection.table_names(cursor))


@pytest.mark.django_db
def test_submissions_are_stored_where_the_router_says_and_only_there():
    form = FormFactory(slug="demo")

    submission_receive(form=form, values=VALUES)

    row = FormSubmission.objects.get()
    assert row._state.db == queue_alias()
    assert row.form == form  # the form is read from the main database
    if connections[DEFAULT_DB_ALIAS].vendor == "sqlite":
        assert queue_alias() == QUEUE
        assert "capture_formsubmission" in _tables(QUEUE)
        assert "capture_formsubmission" not in _tables(DEFAULT_DB_ALIAS)
        assert "capture_form" not in _tables(QUEUE)  # nothing else lives there
    else:
        assert queue_alias() == DEFAULT_DB_ALIAS


def test_the_queue_file_sits_beside_the_main_one_and_postgres_has_none(tmp_path):
    main = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "leadloop.sqlite3")}
    assert queue_database(main)["NAME"] == str(tmp_path / "leadloop-queue.sqlite3")
    assert queue_database({"ENGINE": "django.db.backends.postgresql", "NAME": "x"}) is None


def test_only_submissions_and_the_task_queue_are_migrated_into_the_queue_database(monkeypatch):
    router = QueueRouter()
    monkeypatch.setattr(database, "queue_alias", lambda: QUEUE)  # as on SQLite
    assert router.allow_migrate(QUEUE, "capture", "formsubmission") is True
    assert router.allow_migrate(QUEUE, "django_tasks_database", "dbtaskresult") is True
    assert router.allow_migrate(QUEUE, "django_tasks_database") is True
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "django_tasks_database", "dbtaskresult") is False
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "capture", "formsubmission") is False
    assert router.allow_migrate(QUEUE, "capture", "form") is False
    assert router.allow_migrate(QUEUE, "capture") is False  # RunPython: the cache table
    assert router.allow_migrate(DEFAULT_DB_ALIAS, "capture", "form") is None
    assert router.db_for_write(FormSubmission) == QUEUE
    assert router.db_for_read(Form) == DEFAULT_DB_ALIAS


def _sqlite_tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_leadloop_migrate_makes_both_files_and_a_form_posts_while_the_main_file_is_locked(
    tmp_path,
):
    """The main file's write lock held (as the worker holds it while capturing a batch), a
    submission is still stored, a capture task asked for, and the visitor answered at once."""
    env = clean_environ(
        tmp_path / "var", DEBUG="true", LEADLOOP_FORM_RATE_LIMIT="off", ALLOWED_HOSTS="testserver"
    )
    migrate = subprocess.run(
        [sys.executable, "-m", "leadloop.manage", "migrate", "-v0"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert migrate.returncode == 0, migrate.stderr
    main, queue = (
        tmp_path / "var" / "leadloop.sqlite3",
        tmp_path / "var" / "leadloop-queue.sqlite3",
    )
    assert "capture_form" in _sqlite_tables(main)
    assert "capture_formsubmission" not in _sqlite_tables(main)
    assert "capture_formsubmission" in _sqlite_tables(queue)
    assert "django_tasks_database_dbtaskresult" in _sqlite_tables(queue)
    assert "django_tasks_database_dbtaskresult" not in _sqlite_tables(main)

    script = textwrap.dedent(
        f"""
        import sqlite3, time, django
        django.setup()
        from django.db import connections
        from django.test import Client
        from leadloop.capture.models import Form, FormSubmission
        Form.objects.create(name="Demo", slug="demo", fields=[
            {{"name": "email", "label": "E-mail", "type": "email", "required": True,
              "maps_to": "email", "choices": []}}])
        connections.close_all()
        locker = sqlite3.connect({str(main)!r}, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")  # the main file's write lock, held
        started = time.monotonic()
        response = Client().post("/f/demo", {{"email": "ada@analytical.example"}},
                                 HTTP_ACCEPT="application/json")
        print(response.content.decode()[:300] if response.status_code != 200 else "")
        from django_tasks_db.models import DBTaskResult
        print(response.status_code, round(time.monotonic() - started, 3),
              FormSubmission.objects.count(), DBTaskResult.objects.count())
        locker.rollback()
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "DJANGO_SETTINGS_MODULE": "leadloop.settings"},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    status, seconds, stored, tasks = run.stdout.splitlines()[-1].split()
    assert (status, stored, tasks) == ("200", "1", "1"), run.stdout  # and a capture task asked for
    assert float(seconds) < 5  # the main file's busy timeout is 30 s

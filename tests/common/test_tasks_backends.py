"""The health-check task on each backend, run by that backend's real worker."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import django_rq
import pytest
import redis
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_rq.backend import Job
from rq import SimpleWorker

from leadloop.common.tasks import healthcheck
from tests.conftest import unavailable

_DB_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def _redis_url() -> str:
    """LEADLOOP_TEST_REDIS_URL, once it answers a PING."""
    url = os.environ.get("LEADLOOP_TEST_REDIS_URL", "")
    if not url:
        unavailable("Redis not configured: set LEADLOOP_TEST_REDIS_URL=redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at LEADLOOP_TEST_REDIS_URL={url} is not reachable: {exc}")
    return url


@pytest.fixture
def rq_queue(settings: Any) -> Iterator[django_rq.queues.DjangoRQ]:
    """The RQ backend on a queue of its own in the test Redis, emptied afterwards."""
    url = _redis_url()
    name = f"leadloop-test-{secrets.token_hex(4)}"
    # django-tasks-rq looks results up through the "default" queue's connection.
    settings.RQ_QUEUES = {"default": {"URL": url}, name: {"URL": url}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": [name]}}
    queue = django_rq.get_queue(name, job_class=Job)
    yield queue
    for job_id in queue.finished_job_registry.get_job_ids():
        Job.fetch(job_id, connection=queue.connection).delete()
    queue.delete(delete_jobs=True)


@pytest.mark.django_db(transaction=True)
def test_healthcheck_on_the_database_backend_is_run_by_db_worker(settings: Any) -> None:
    settings.TASKS = _DB_BACKEND
    result = healthcheck.enqueue(token="db-1")
    assert result.status == TaskResultStatus.READY

    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {
        "token": "db-1",
        "database": connection.vendor,
        "nice": os.nice(0),  # run in this process
    }
    assert len(result.worker_ids) == 1


@pytest.mark.django_db
def test_healthcheck_on_rq_is_run_by_a_burst_worker(rq_queue: django_rq.queues.DjangoRQ) -> None:
    result = healthcheck.using(queue_name=rq_queue.name).enqueue(token="rq-1")
    assert result.status == TaskResultStatus.READY
    assert rq_queue.count == 1

    worker = SimpleWorker([rq_queue], connection=rq_queue.connection, job_class=Job)
    worker.work(burst=True)

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {
        "token": "rq-1",
        "database": connection.vendor,
        "nice": os.nice(0),
    }
    assert result.worker_ids == [worker.name]


@pytest.mark.django_db
def test_leadloop_worker_on_rq_runs_a_deferred_task(settings: Any, tmp_path: Path) -> None:
    # RQ keeps a deferred job in its scheduled registry: only a worker with RQ's scheduler
    # moves it to the queue. A Redis database of its own, as the worker reads queue "default".
    url = _redis_url().rsplit("/", 1)[0] + "/14"
    settings.RQ_QUEUES = {"default": {"URL": url}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    queue = django_rq.get_queue("default", job_class=Job)
    queue.connection.flushdb()
    result = healthcheck.using(run_after=timezone.now() - timedelta(seconds=1)).enqueue(
        token="rq-later"
    )
    assert queue.count == 0  # scheduled, not queued

    run = subprocess.run(
        [str(Path(sys.executable).parent / "leadloop"), "worker", "--burst", "--nice", "3"],
        env={
            **os.environ,
            "LEADLOOP_TASKS_BACKEND": "rq",
            "LEADLOOP_REDIS_URL": url,
            "LEADLOOP_DATA_DIR": str(tmp_path),
            "DATABASE_URL": "",
        },
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value["token"] == "rq-later"
    # the worker lowered its own CPU priority before it worked: web requests come first
    assert result.return_value["nice"] == os.nice(0) + 3
    assert f"Working at nice {os.nice(0) + 3}." in run.stdout
    queue.connection.flushdb()


@pytest.mark.django_db
def test_check_tasks_reports_ok_when_the_task_ran(settings: Any, capsys: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    call_command("check_tasks")

    assert capsys.readouterr().out.startswith("Tasks OK: ImmediateBackend ran the health check in")


@pytest.mark.django_db
def test_check_tasks_fails_when_no_worker_runs_the_task(settings: Any) -> None:
    settings.TASKS = _DB_BACKEND

    with pytest.raises(CommandError, match=r"No worker ran the health-check task .* within 0\.3 s"):
        call_command("check_tasks", "--timeout", "0.3")

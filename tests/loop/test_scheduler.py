"""The scheduler: every scheduled job names a real task; `--once` enqueues each job once, and
not while another scheduler holds the lease."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from leadloop.common.lease import lease_acquire
from leadloop.loop.schedule import SCHEDULE

pytestmark = pytest.mark.django_db


def test_every_scheduled_job_is_a_task():
    names = [job.resolve().name for job in SCHEDULE]

    assert len(names) == len(SCHEDULE) == len({job.name for job in SCHEDULE})


def test_once_enqueues_every_job_on_the_database_backend():
    out = io.StringIO()

    call_command("scheduler", "--once", stdout=out)

    paths = sorted(DBTaskResult.objects.values_list("task_path", flat=True))
    assert paths == sorted(job.task for job in SCHEDULE)
    assert out.getvalue().count("enqueued") == len(SCHEDULE)


def test_once_enqueues_nothing_while_another_scheduler_holds_the_lease():
    lease_acquire(name="scheduler", holder="elsewhere", ttl=dt.timedelta(minutes=1))
    err = io.StringIO()

    call_command("scheduler", "--once", stderr=err)

    assert DBTaskResult.objects.count() == 0
    assert "Another scheduler holds the lease" in err.getvalue()


def test_list_prints_each_job_and_when_it_runs():
    out = io.StringIO()

    call_command("scheduler", "--list", stdout=out)

    for job in SCHEDULE:
        assert job.name in out.getvalue()
    assert "cron hour=2 minute=15 (UTC)" in out.getvalue()

"""Reads of import jobs shared by the UI and the CLI, and what "running" means.

The process running an import beats ``ImportJob.heartbeat_at`` when it starts and after
committed batches, at most every ``HEARTBEAT_EVERY``. A job with status "running" is really
running while its heartbeat is younger than ``HEARTBEAT_STALE_AFTER``; after that its process
is taken for dead (killed, the machine went down) and the job is *interrupted*: it may be
resumed. A live job is never resumed, so two processes never import the same rows at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from django.db.models import Q, QuerySet
from django.utils import timezone

from leadloop.capture.models import ImportJob, ImportRejection, ImportStatus
from leadloop.common.errors import Conflict, NotFound

# How often a running import beats, at most, and when a silent one counts as interrupted.
# The stale limit is many beats long: a batch commits in about a second (docs/benchmarks.md).
HEARTBEAT_EVERY: Final = timedelta(seconds=5)
HEARTBEAT_STALE_AFTER: Final = timedelta(seconds=60)


class ImportState(StrEnum):
    """What an import is doing now; ``interrupted`` = status running, heartbeat stale."""

    PENDING = "pending"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    DONE = "done"
    FAILED = "failed"


class ImportRunning(Conflict):
    """The import is running in another process (its heartbeat is fresh): not resumed."""

    code = "import_running"

    def __init__(self, *, job_id: int, beat_ago: timedelta) -> None:
        super().__init__(
            f"Import {job_id} is running: its last heartbeat was {age_text(beat_ago)} ago. "
            f"It can be resumed once it has not beaten for "
            f"{age_text(HEARTBEAT_STALE_AFTER)}.",
            loc=("job", job_id),
        )
        self.job_id, self.beat_ago = job_id, beat_ago


def import_job_list(*, limit: int = 100) -> QuerySet[ImportJob]:
    """The latest imports, newest first."""
    return ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")[:limit]


def import_job_get(*, job_id: int) -> ImportJob:
    """One import; raises NotFound."""
    try:
        return ImportJob.objects.select_related("created_by").get(pk=job_id)
    except ImportJob.DoesNotExist:
        raise NotFound(f"There is no import {job_id}.") from None


def import_rejections(*, job_id: int, limit: int = 200) -> QuerySet[ImportRejection]:
    """The first rejected cells of an import, by row."""
    return ImportRejection.objects.filter(job_id=job_id).order_by("row_number", "id")[:limit]


def import_state(job: ImportJob, *, now: datetime | None = None) -> ImportState:
    """The job's state; a running job with a stale (or no) heartbeat is interrupted."""
    if job.status != ImportStatus.RUNNING:
        return ImportState(job.status)
    if import_heartbeat_fresh(job, now=now):
        return ImportState.RUNNING
    return ImportState.INTERRUPTED


def import_heartbeat_fresh(job: ImportJob, *, now: datetime | None = None) -> bool:
    """Whether the job's process beat less than ``HEARTBEAT_STALE_AFTER`` ago."""
    if job.heartbeat_at is None:
        return False
    return (now or timezone.now()) - job.heartbeat_at < HEARTBEAT_STALE_AFTER


def import_heartbeat_age(job: ImportJob, *, now: datetime | None = None) -> timedelta | None:
    """How long ago the job's process last beat; None when it never did."""
    if job.heartbeat_at is None:
        return None
    return max((now or timezone.now()) - job.heartbeat_at, timedelta(0))


def import_resumable(job: ImportJob, *, now: datetime | None = None) -> bool:
    """Whether the import stopped before its end (a crash, a killed worker, a failure) and
    nothing runs it now."""
    state = import_state(job, now=now)
    return state in (ImportState.INTERRUPTED, ImportState.FAILED) and not job.dry_run


def import_claimable(*, now: datetime) -> Q:
    """The jobs a process may start running at `now`: pending, failed or interrupted ones.

    Used in the conditional UPDATE that claims a job, so that of two processes resuming the
    same job at once only one gets it.
    """
    stale = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lte=now - HEARTBEAT_STALE_AFTER)
    return Q(status__in=[ImportStatus.PENDING, ImportStatus.FAILED]) | (
        Q(status=ImportStatus.RUNNING) & stale
    )


def age_text(delta: timedelta) -> str:
    """A short duration in words: "4 s", "3 min", "2 h 5 min", "3 days"."""
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        rest = minutes % 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{hours // 24} days"

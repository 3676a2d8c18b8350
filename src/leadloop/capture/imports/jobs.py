"""Reads of import jobs shared by the UI and the CLI."""

from __future__ import annotations

from django.db.models import QuerySet

from leadloop.capture.models import ImportJob, ImportRejection, ImportStatus
from leadloop.common.errors import NotFound


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


def import_resumable(job: ImportJob) -> bool:
    """Whether the import stopped before its end (a crash, a killed worker, a failure)."""
    return job.status in (ImportStatus.RUNNING, ImportStatus.FAILED) and not job.dry_run

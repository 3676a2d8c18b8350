"""CSV imports in the browser: upload and map, preview, run in the background, watch, resume.

The file is stored under ``MEDIA_ROOT/imports``; the import itself is ``loop.imports`` run by
the ``loop.tasks.import_leads`` task, the same runner as ``leadloop import leads``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial, wraps
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadloop.accounts.models import Role
from leadloop.capture.imports.errors import ImportFileInvalid, MappingInvalid
from leadloop.capture.imports.jobs import (
    HEARTBEAT_STALE_AFTER,
    ImportRunning,
    ImportState,
    age_text,
    import_heartbeat_age,
    import_job_get,
    import_job_list,
    import_rejections,
    import_resumable,
    import_state,
)
from leadloop.capture.imports.mapping import PRESETS, Mapping, mapping_load, mapping_parse
from leadloop.capture.imports.preview import import_preview
from leadloop.capture.imports.rejects import rejects_csv_write
from leadloop.capture.models import ImportJob, ImportStatus
from leadloop.common.errors import NotFound
from leadloop.loop.imports import import_start
from leadloop.loop.tasks import import_leads
from leadloop.web.views.common import AuthedRequest

_MAY_IMPORT = frozenset({Role.MARKETING_OPS, Role.ADMIN})


class _View(Protocol):
    def __call__(self, request: AuthedRequest, /, *args: Any, **kwargs: Any) -> HttpResponse: ...


def _importer(view: _View) -> _View:
    """Only marketing ops and admins import."""

    @wraps(view)
    def inner(request: AuthedRequest, /, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.role not in _MAY_IMPORT and not request.user.is_superuser:
            raise PermissionDenied("Only marketing ops and admins import leads.")
        return view(request, *args, **kwargs)

    return inner


def _job(job_id: int) -> ImportJob:
    try:
        return import_job_get(job_id=job_id)
    except NotFound as e:
        raise Http404(e.message) from e


def _upload_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store(upload: UploadedFile) -> Path:
    name = Path(upload.name or "upload.csv").name[-100:]
    path = _upload_dir() / f"{uuid.uuid4().hex}-{name}"
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


def _stored(token: str) -> Path:
    """A file stored by an earlier step, by its name; nothing outside the upload folder."""
    path = _upload_dir() / Path(token).name
    if not token or not path.is_file():
        raise ImportFileInvalid("The uploaded file is gone; upload it again.", loc=("file",))
    return path


def _mapping(request: AuthedRequest) -> Mapping:
    toml = request.POST.get("mapping_toml", "").strip()
    upload = request.FILES.get("mapping_file")
    if upload is not None:
        toml = upload.read(256 * 1024).decode("utf-8", errors="replace")
    if toml:
        return mapping_parse(toml, name=request.POST.get("mapping_name") or "custom mapping")
    preset = request.POST.get("preset", "")
    if preset not in PRESETS:
        raise MappingInvalid("Choose a preset, or upload or paste a TOML mapping.")
    return mapping_load(preset)


@login_required
@_importer
@require_GET
def import_index(request: AuthedRequest) -> HttpResponse:
    rows = [(job, import_state(job)) for job in import_job_list()]
    return render(request, "web/imports/list.html", {"rows": rows})


@login_required
@_importer
@require_http_methods(["GET", "POST"])
def import_new(request: AuthedRequest) -> HttpResponse:
    """Upload + mapping → preview of the first rows → start."""
    context: dict[str, Any] = {"presets": PRESETS, "post": request.POST}
    if request.method == "GET":
        return render(request, "web/imports/new.html", context)
    try:
        upload = request.FILES.get("file")
        path = _store(upload) if upload is not None else _stored(request.POST.get("stored", ""))
        mapping = _mapping(request)
        context.update(stored=path.name, file_name=request.POST.get("file_name") or path.name)
        context.update(mapping=mapping, file_name=upload.name if upload else context["file_name"])
        if request.POST.get("action") == "start":
            job = import_start(
                path=path,
                mapping=mapping,
                file_name=context["file_name"],
                dry_run=bool(request.POST.get("dry_run")),
                update_only=bool(request.POST.get("update_only")),
                actor=request.user,
            )
            transaction.on_commit(partial(import_leads.enqueue, job_id=job.pk))
            messages.success(request, f"Import {job.pk} of {job.file_name} started.")
            return redirect("web:import_detail", job_id=job.pk)
        context["preview"] = import_preview(path=path, mapping=mapping)
    except (ImportFileInvalid, MappingInvalid) as e:
        context["error"] = e.message
        return render(request, "web/imports/new.html", context, status=400)
    return render(request, "web/imports/new.html", context)


def _detail_context(job: ImportJob) -> dict[str, Any]:
    total = job.rows_total or 0
    percent = min(100, round(100 * job.rows_done / total)) if total else 0
    state = import_state(job)
    age = import_heartbeat_age(job)
    return {
        "job": job,
        "state": state,
        "percent": 100 if job.status == ImportStatus.DONE else percent,
        "live": state in (ImportState.PENDING, ImportState.RUNNING),
        "resumable": import_resumable(job),
        "beat_ago": age_text(age) if age is not None else "",
        "stale_after": age_text(HEARTBEAT_STALE_AFTER),
    }


@login_required
@_importer
@require_GET
def import_detail(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = _job(job_id)
    context = _detail_context(job)
    context["rejections"] = import_rejections(job_id=job.pk)
    return render(request, "web/imports/detail.html", context)


@login_required
@_importer
@require_GET
def import_progress(request: AuthedRequest, job_id: int) -> HttpResponse:
    """The progress panel alone, polled by htmx while the import runs."""
    return render(request, "web/imports/_progress.html", _detail_context(_job(job_id)))


@login_required
@_importer
@require_GET
def import_rejects_csv(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = _job(job_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejects.csv"'
    rejects_csv_write(job_id=job.pk, out=response)
    return response


@login_required
@_importer
@require_POST
def import_resume(request: AuthedRequest, job_id: int) -> HttpResponse:
    job = _job(job_id)
    state = import_state(job)
    if state == ImportState.RUNNING:
        age = import_heartbeat_age(job) or timedelta(0)
        messages.error(request, ImportRunning(job_id=job.pk, beat_ago=age).message)
    elif job.dry_run and not import_resumable(job):
        messages.error(request, f"Import {job.pk} is a dry run: start it again to check the file.")
    elif not import_resumable(job):
        messages.error(request, f"Import {job.pk} is {state.value}: there is nothing to resume.")
    else:
        transaction.on_commit(partial(import_leads.enqueue, job_id=job.pk))
        messages.success(request, f"Import {job.pk} resumes after row {job.resume_row:,}.")
    return redirect("web:import_detail", job_id=job.pk)

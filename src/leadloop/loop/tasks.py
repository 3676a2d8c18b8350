"""Background work of the loop use cases: thin task wrappers that load ids and call a service."""

from __future__ import annotations

from django_tasks import task

from leadloop.capture.imports.errors import ImportFileInvalid, MappingInvalid
from leadloop.loop.imports import import_run


@task()
def import_leads(*, job_id: int) -> None:
    """Run (or resume) import `job_id`; safe to run twice: a done job returns at once and a
    resumed one skips its committed rows. A bad file or mapping marks the job failed."""
    try:
        import_run(job_id=job_id)
    except (ImportFileInvalid, MappingInvalid):
        return  # recorded on the job by import_run

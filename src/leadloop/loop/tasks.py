"""Background work of the loop use cases: thin task wrappers that load ids and call a service."""

from __future__ import annotations

from django_tasks import task

from leadloop.capture.imports.errors import ImportFileInvalid, MappingInvalid
from leadloop.capture.imports.jobs import ImportRunning
from leadloop.loop.imports import import_run


@task()
def import_leads(*, job_id: int) -> None:
    """Run (or resume) import `job_id`; safe to run twice: a done job returns at once, a
    resumed one skips its committed rows and one that another worker runs (fresh heartbeat)
    is left to it. A bad file or mapping marks the job failed."""
    try:
        import_run(job_id=job_id)
    except (ImportFileInvalid, MappingInvalid):
        return  # recorded on the job by import_run
    except ImportRunning:
        return  # the live worker finishes it


@task()
def route_qualified(*, change_id: int) -> None:
    """Route the MQL of StageChange `change_id`; safe to run twice (routed once per change)."""
    from leadloop.loop.lifecycle import lead_route_qualified

    lead_route_qualified(change_id=change_id)


@task()
def qualify_due() -> None:
    """Qualify the leads whose scores meet the agreement's thresholds (the periodic sweep)."""
    from leadloop.loop.lifecycle import leads_qualify_due

    leads_qualify_due()


@task()
def handoff_deliver_due() -> int:
    """Deliver the batched hand-off if one is due; safe to run twice (claimed once)."""
    from leadloop.loop.lifecycle import handoff_deliver_now

    return handoff_deliver_now()


@task()
def capture_submissions() -> int:
    """Capture the pending public form submissions; safe to run in several workers at once
    (each claims its own). Returns how many were captured."""
    from leadloop.loop.intake import submissions_capture

    return submissions_capture().captured

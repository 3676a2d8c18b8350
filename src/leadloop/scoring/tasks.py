"""Background scoring: thin task wrappers around the services; progress in the cache."""

from __future__ import annotations

from django_tasks import task

from leadloop.scoring.progress import rescore_progress_set
from leadloop.scoring.rescore import scores_rescore


@task()
def rescore_all(*, cause: str) -> dict[str, int]:
    """Rescore every lead (after a rule set was activated); safe to run twice: a rescore
    recomputes from scratch. Progress is readable with ``rescore_progress``."""
    rescore_progress_set(cause=cause, done=0, total=0, running=True)
    result = scores_rescore(
        cause=cause,
        progress=lambda done, total: rescore_progress_set(
            cause=cause, done=done, total=total, running=done < total
        ),
    )
    rescore_progress_set(cause=cause, done=result.leads, total=result.leads, running=False)
    return {"leads": result.leads, "moved": result.moved}

"""Tasks of the shared layer: a health check that proves a worker runs and reaches the database.

`leadloop check_tasks` enqueues `healthcheck` on the configured backend (LEADLOOP_TASKS_BACKEND)
and waits for a worker to answer: the quickest way to see that background work is flowing.
"""

from __future__ import annotations

import os

from django.db import connection
from django_tasks import task


@task()
def healthcheck(*, token: str) -> dict[str, str | int]:
    """Echo `token` with the database vendor the worker sees and the CPU priority it runs at
    (its nice value); writes nothing, so safe to repeat."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"token": token, "database": connection.vendor, "nice": os.nice(0)}

"""The periodic work of Leadloop: what the scheduler enqueues, and when.

The scheduler only enqueues; workers run the tasks. Every task here is idempotent (it claims
its work with conditional updates), so an extra run — a second scheduler during a lease
hand-over, a manual `leadloop scheduler --once` — does no harm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from django.utils.module_loading import import_string
from django_tasks.base import Task


@dataclass(frozen=True)
class Job:
    name: str
    task: str  # dotted path of a Django task
    every_seconds: int | None = None  # an interval, or
    cron: dict[str, str] = field(default_factory=dict)  # APScheduler cron fields, in UTC
    kwargs: dict[str, Any] = field(default_factory=dict)
    about: str = ""

    def resolve(self) -> Task[Any, Any]:
        task = import_string(self.task)
        if not isinstance(task, Task):
            raise TypeError(f"{self.task} is not a Django task")
        return task

    @property
    def when(self) -> str:
        if self.every_seconds is not None:
            return f"every {self.every_seconds} s"
        return "cron " + " ".join(f"{k}={v}" for k, v in self.cron.items()) + " (UTC)"


SCHEDULE: Final[tuple[Job, ...]] = (
    Job(
        "qualify-due",
        "leadloop.loop.tasks.qualify_due",
        every_seconds=300,
        about="MQL for leads whose scores meet the agreement's thresholds (after rescoring, "
        "imports and recycle holds)",
    ),
    Job(
        "forms-capture",
        "leadloop.loop.tasks.capture_submissions",
        every_seconds=60,
        about="capture public form submissions left waiting (a lost task; a worker that "
        "stopped mid-way leaves its claimed ones to the next run after their lease)",
    ),
    Job(
        "handoff-due",
        "leadloop.loop.tasks.handoff_deliver_due",
        every_seconds=60,
        about="deliver a batched hand-off when it is due",
    ),
    Job(
        "webhooks-due",
        "leadloop.webhooks.tasks.webhook_deliveries_due",
        every_seconds=60,
        about="send webhook deliveries whose retry is due (a safety net for lost tasks)",
    ),
    Job(
        "sla-sweep",
        "leadloop.sla.tasks.sla_sweep_due",
        every_seconds=60,
        about="remind owners before SLA due times, tell managers at breaches, escalate",
    ),
    Job(
        "marketing-sla",
        "leadloop.sla.tasks.marketing_sla_due",
        every_seconds=900,
        about="evaluate marketing's delivery SLA for each period that has ended",
    ),
    Job(
        "rescore-nightly",
        "leadloop.scoring.tasks.rescore_all",
        cron={"hour": "2", "minute": "15"},
        kwargs={"cause": "nightly rescore (engagement decay, thresholds)"},
        about="rescore every lead so decayed engagement and 'qualifies' stay current",
    ),
)

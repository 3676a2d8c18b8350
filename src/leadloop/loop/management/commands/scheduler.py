"""`leadloop scheduler`: enqueue Leadloop's periodic tasks; one scheduler at a time."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from leadloop.common.lease import lease_acquire, lease_release
from leadloop.loop.schedule import SCHEDULE, Job

LEASE = "scheduler"
RENEW_SECONDS = 10
LEASE_TTL = timedelta(seconds=30)


class Command(BaseCommand):
    help = (
        "Run the scheduler: it enqueues the periodic tasks (qualification sweep, batched "
        "hand-off, webhook retries, nightly rescore) for the workers to run. Run one per "
        "installation; a second one waits (a database lease) and takes over if the first dies."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--list", action="store_true", help="Print the schedule and exit.")
        parser.add_argument(
            "--once", action="store_true", help="Enqueue every job once and exit (cron, tests)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        jobs = [(job, job.resolve()) for job in SCHEDULE]  # fail at start on a bad path
        if options["list"]:
            for job, _task in jobs:
                self.stdout.write(f"{job.name:<18} {job.when:<28} {job.about}")
            return
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        if options["once"]:
            if not lease_acquire(name=LEASE, holder=holder, ttl=LEASE_TTL):
                self.stderr.write("Another scheduler holds the lease; nothing enqueued.")
                return
            try:
                for job, task in jobs:
                    task.enqueue(**job.kwargs)
                    self.stdout.write(f"enqueued {job.name}")
            finally:
                lease_release(name=LEASE, holder=holder)
            return
        self._run(jobs, holder)

    def _run(self, jobs: list[tuple[Job, Any]], holder: str) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.blocking import BlockingScheduler

        leading = {"now": False}

        def renew() -> None:
            close_old_connections()
            was = leading["now"]
            leading["now"] = lease_acquire(name=LEASE, holder=holder, ttl=LEASE_TTL)
            if leading["now"] != was:
                state = "took the lease" if leading["now"] else "lost the lease; waiting"
                self.stdout.write(f"scheduler {holder} {state}")

        def fire(job: Job, task: Any) -> None:
            if not leading["now"]:
                return
            close_old_connections()
            task.enqueue(**job.kwargs)

        scheduler = BlockingScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True},
        )
        scheduler.add_job(renew, "interval", seconds=RENEW_SECONDS, id="lease", next_run_time=None)
        for job, task in jobs:
            if job.every_seconds is not None:
                scheduler.add_job(
                    fire, "interval", seconds=job.every_seconds, args=(job, task), id=job.name
                )
            else:
                scheduler.add_job(fire, "cron", args=(job, task), id=job.name, **job.cron)
        renew()
        self.stdout.write(f"scheduler {holder}: {len(jobs)} jobs; Ctrl-C stops it.")
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            lease_release(name=LEASE, holder=holder)

"""``leadloop import leads FILE --mapping NAME_OR_TOML`` and ``leadloop import resume ID``.

Exit status: 0 when every row was imported, 3 when some rows were rejected (they are listed,
and written to ``--rejects FILE``), 2 when the mapping or the file cannot be used at all, 1
when ``resume`` is refused because the import is still running.

``resume`` refuses a job whose process still beats (its heartbeat is younger than
``HEARTBEAT_STALE_AFTER``, 60 s) and says how long ago it last beat: two processes importing
the same rows would race. Right after killing an import yourself you need not wait that
minute: ``--force`` resumes at once (only when you know the process is gone).
"""

from __future__ import annotations

import gc
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from leadloop.capture.imports.errors import ImportFileInvalid, MappingInvalid
from leadloop.capture.imports.jobs import HEARTBEAT_STALE_AFTER, ImportRunning, age_text
from leadloop.capture.imports.mapping import mapping_load
from leadloop.capture.imports.rejects import rejects_csv_write
from leadloop.capture.models import ImportJob, ImportRejection
from leadloop.loop.imports import BATCH_ROWS, import_run, import_start

EXIT_OK, EXIT_BAD_INPUT, EXIT_REJECTED = 0, 2, 3
_SHOWN_REJECTIONS = 20


class Command(BaseCommand):
    help = "Import leads from a CSV file with a mapping (a preset or a TOML file), or resume one."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        leads = sub.add_parser("leads", help="Import leads from FILE.")
        leads.add_argument("file", type=Path)
        leads.add_argument(
            "--mapping", required=True, help="A preset (hubspot, salesforce) or a TOML file."
        )
        leads.add_argument("--dry-run", action="store_true", help="Check every row, write none.")
        leads.add_argument(
            "--update-only", action="store_true", help="Update known leads; reject new ones."
        )
        leads.add_argument("--rejects", type=Path, help="Write the rejected rows to this CSV.")
        leads.add_argument(
            "--batch",
            type=int,
            default=BATCH_ROWS,
            help="Rows per transaction (a crash redoes at most one batch).",
        )
        resume = sub.add_parser("resume", help="Continue an interrupted import.")
        resume.add_argument("job_id", type=int)
        resume.add_argument("--rejects", type=Path)
        resume.add_argument("--batch", type=int, default=BATCH_ROWS)
        resume.add_argument(
            "--force",
            action="store_true",
            help=(
                "Resume even though the import's heartbeat is fresh (younger than "
                f"{age_text(HEARTBEAT_STALE_AFTER)}): only when you know its process is gone, "
                "e.g. you just killed it."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        console = Console(stderr=True)
        try:
            if options["action"] == "leads":
                mapping = mapping_load(options["mapping"])
                job = import_start(
                    path=options["file"],
                    mapping=mapping,
                    dry_run=options["dry_run"],
                    update_only=options["update_only"],
                )
            else:
                job = self._job(options["job_id"])
            console.print(f"Import {job.pk}: {job.file_name} with mapping {job.mapping_name}")
            # The objects of start-up live as long as this process: keep the collector from
            # walking them again after every batch (about a tenth of an import's time).
            gc.freeze()
            job = self._run(job, options["batch"], console, force=options.get("force", False))
        except ImportRunning as e:
            raise CommandError(
                f"{e.message} If you know its process is gone (you killed it), resume it now "
                f"with: leadloop import resume {e.job_id} --force"
            ) from None
        except (MappingInvalid, ImportFileInvalid) as e:
            self.stderr.write(f"error: {e.message}")
            sys.exit(EXIT_BAD_INPUT)
        self._report(job, options.get("rejects"))
        sys.exit(EXIT_REJECTED if job.rejected else EXIT_OK)

    def _job(self, job_id: int) -> ImportJob:
        try:
            return ImportJob.objects.get(pk=job_id)
        except ImportJob.DoesNotExist:
            raise CommandError(f"There is no import {job_id}.") from None

    def _run(self, job: ImportJob, batch: int, console: Console, *, force: bool) -> ImportJob:
        columns = (
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("rows", total=job.rows_total, completed=job.rows_done)
            return import_run(
                job_id=job.pk,
                batch_rows=batch,
                force=force,
                progress=lambda j: bar.update(task, completed=j.rows_done),
            )

    def _report(self, job: ImportJob, rejects: Path | None) -> None:
        verb = "would be " if job.dry_run else ""
        self.stdout.write(
            f"Import {job.pk}: {job.rows_done:,} rows; {job.created:,} leads {verb}created, "
            f"{job.updated:,} {verb}updated, {job.rejected:,} rows rejected."
        )
        rejections = ImportRejection.objects.filter(job=job).order_by("row_number", "id")
        for r in rejections[:_SHOWN_REJECTIONS]:
            where = f", column {r.column!r}" if r.column else ""
            value = f": {r.value!r}" if r.value else ""
            self.stdout.write(f"  row {r.row_number}{where}{value}: {r.reason}")
        if job.rejected > _SHOWN_REJECTIONS:
            self.stdout.write("  … and more; see --rejects or the import's page.")
        if rejects is not None:
            with rejects.open("w", encoding="utf-8", newline="") as out:
                rejects_csv_write(job_id=job.pk, out=out)
            self.stdout.write(f"Rejected rows written to {rejects}.")

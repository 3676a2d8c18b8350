"""Import jobs: started from a file and a mapping, run in batches of committed rows, resumed
after a crash without duplicates (the rows already committed are skipped).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Final

from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.capture.imports.errors import ImportFileInvalid, MappingInvalid
from leadloop.capture.imports.jobs import ImportRunning, import_claimable, import_heartbeat_age
from leadloop.capture.imports.mapping import Mapping, mapping_parse
from leadloop.capture.imports.reader import CsvReader, Row
from leadloop.capture.imports.validate import CellError, ImportRow, RowValidator
from leadloop.capture.models import ImportJob, ImportStatus
from leadloop.leads.models import AttributeDefinition
from leadloop.loop.imports.writer import Batch, BatchWriter

BATCH_ROWS: Final = 20_000  # rows per transaction; see docs/benchmarks.md, import_leads


Progress = Callable[[ImportJob], None]


def import_start(
    *,
    path: Path,
    mapping: Mapping,
    file_name: str = "",
    dry_run: bool = False,
    update_only: bool = False,
    actor: User | None = None,
) -> ImportJob:
    """Check `mapping` against the file's header and create a pending job for it.

    Raises ImportFileInvalid (empty, unreadable, wrong delimiter, missing column) and
    MappingInvalid (an attribute that exists with another type).
    """
    reader = CsvReader(path, encoding=mapping.encoding, delimiter=mapping.delimiter)
    RowValidator(mapping, reader.header)
    _attribute_definitions(mapping)
    digest, rows = _digest(path)
    return ImportJob.objects.create(
        file_path=str(path.resolve()),
        file_name=file_name or path.name,
        file_sha256=digest,
        mapping_name=mapping.name,
        mapping_toml=mapping.toml,
        dry_run=dry_run,
        update_only=update_only,
        rows_total=rows,
        created_by=actor,
    )


def import_run(
    *,
    job_id: int,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
    force: bool = False,
) -> ImportJob:
    """Import the job's rows after its last committed batch; returns the finished job.

    Safe to call again after a crash: it resumes at ``resume_offset`` and counts on. It claims
    the job first and beats its heartbeat as batches commit (``capture.imports.jobs``).
    Raises ImportRunning when another process runs the job (its heartbeat is fresh) unless
    `force` (the caller knows that process is gone), and ImportFileInvalid or
    MappingInvalid (the job is then marked failed with the message).
    """
    job = ImportJob.objects.get(pk=job_id)
    if job.status == ImportStatus.DONE:
        return job
    if not _claim(job, force=force):
        job.refresh_from_db()
        if job.status == ImportStatus.DONE:  # finished by the other process meanwhile
            return job
        age = import_heartbeat_age(job) or timedelta(0)
        raise ImportRunning(job_id=job.pk, beat_ago=age)
    try:
        mapping = mapping_parse(job.mapping_toml, name=job.mapping_name)
        path = Path(job.file_path)
        if not path.is_file() or _digest(path)[0] != job.file_sha256:
            raise ImportFileInvalid(
                f"{job.file_name}: the file is missing or changed since the import started.",
                loc=("file",),
            )
        reader = CsvReader(path, encoding=mapping.encoding, delimiter=mapping.delimiter)
        validator = RowValidator(mapping, reader.header)
        definitions = _attribute_definitions(mapping)
    except (ImportFileInvalid, MappingInvalid) as e:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, error=e.message, finished_at=timezone.now()
        )
        raise
    writer = BatchWriter(job=job, mapping=mapping, definitions=definitions)
    rows = reader.rows(offset=job.resume_offset, start_number=job.resume_row)
    for batch in _batches(rows, validator, batch_rows):
        writer.write(batch)
        if progress:
            job.refresh_from_db()
            progress(job)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job


def _claim(job: ImportJob, *, force: bool) -> bool:
    """Mark the job running with a first heartbeat unless a live process runs it (or `force`).

    One conditional UPDATE: of two processes resuming the same job at once, one claims it.
    """
    now = timezone.now()
    jobs = ImportJob.objects.filter(pk=job.pk)
    if not force:
        jobs = jobs.filter(import_claimable(now=now))
    started = job.started_at or now
    if not jobs.update(status=ImportStatus.RUNNING, error="", started_at=started, heartbeat_at=now):
        return False
    job.status, job.error, job.started_at, job.heartbeat_at = ImportStatus.RUNNING, "", started, now
    return True


def _digest(path: Path) -> tuple[str, int]:
    """The file's sha256 and its line count less the header (an estimate of its rows)."""
    sha, lines, last = hashlib.sha256(), 0, b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            sha.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return sha.hexdigest(), max(lines - (last == b"\n"), 0)


def _batches(rows: Iterable[Row], validator: RowValidator, size: int) -> Iterator[Batch]:
    batch = Batch()
    for row in rows:
        batch.count += 1
        batch.offset = row.offset
        if row.problem:
            batch.rejected[row.number] = [CellError("", "", f"the row {row.problem}")]
            batch.raw[row.number] = row.cells[:50]
        else:
            checked = validator.check(row.number, row.cells)
            if isinstance(checked, ImportRow):
                batch.rows.append(checked)
            else:
                batch.rejected[row.number] = checked
                batch.raw[row.number] = row.cells
        if batch.count >= size:
            yield batch
            batch = Batch()
    if batch.count:
        yield batch


def _attribute_definitions(mapping: Mapping) -> dict[str, AttributeDefinition]:
    """The definitions of the mapping's attributes, created when new; refuses a type change."""
    existing = {
        d.key: d
        for d in AttributeDefinition.objects.filter(key__in=[a.key for a in mapping.attributes])
    }
    for spec in mapping.attributes:
        definition = existing.get(spec.key)
        if definition is None:
            existing[spec.key] = AttributeDefinition.objects.create(
                key=spec.key, label=spec.column[:200], type=spec.type
            )
        elif definition.type != spec.type:
            raise MappingInvalid(
                f"Mapping {mapping.name}: [attributes].{spec.key} has type {spec.type!r}, but "
                f"the attribute {spec.key!r} exists with type {definition.type!r}.",
                loc=("attributes", spec.key, "type"),
            )
    return existing

"""CSV import of leads, a use case that spans leads, lifecycle and capture.

    import_start: check the mapping against the file's header → one ImportJob (pending)
    import_run:   stream the rows from where the job stopped; per batch of rows, in ONE
                  transaction: find the batch's leads (one query), resolve companies (one
                  query + one insert), create and update leads, replay their stage histories
                  (``stage_history_apply``), store the rejected rows and the job's progress
                  (``resume_row``, ``resume_offset``, counters). A crash loses at most the
                  batch in flight; ``import_run`` again continues after the last commit.

Per row it keeps the semantics of ``leads.services.lead_upsert`` (identity by normalised
e-mail, else external id; empty values never erase; attributes merge; free-mail domains give
no company) without a query per row. Re-importing a file adds no duplicate lead or stage
change: a dated step not after the lead's latest change is history it already has.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

from django.db import connection, models, transaction
from django.db.models import F
from django.db.models.base import ModelState
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.capture.imports.errors import ImportFileInvalid, MappingInvalid
from leadloop.capture.imports.jobs import (
    HEARTBEAT_EVERY,
    ImportRunning,
    import_claimable,
    import_heartbeat_age,
)
from leadloop.capture.imports.mapping import STAGE_DATES, Mapping, mapping_parse
from leadloop.capture.imports.reader import CsvReader, Row
from leadloop.capture.imports.validate import CellError, ImportRow, RowValidator
from leadloop.capture.models import ImportJob, ImportRejection, ImportStatus
from leadloop.leads.models import AttributeDefinition, AttributeType, Company, Lead, Stage
from leadloop.leads.services import LEAD_FIELDS, domain_normalize, is_free_mail
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import HistoryInvalid, HistoryStep, stamp_fields
from leadloop.loop.owners import marketing_queue

BATCH_ROWS: Final = 20_000  # rows per transaction; see docs/benchmarks.md, import_leads
RULE: Final = "import"
_ENTRY: Final = frozenset({Stage.SUBSCRIBER, Stage.LEAD})
_ORDER: Final = {s: i for i, s in enumerate(Stage.values)}
_LEAD_FIELDS: Final = frozenset(LEAD_FIELDS)
_MAX_CHOICES: Final = 500

Progress = Callable[[ImportJob], None]


class _DryRun(Exception):
    """Raised inside a dry run's batch transaction to roll its writes back."""


@dataclass(slots=True)
class _Track:
    """A lead of the batch with what this batch does to it."""

    lead: Lead
    new: bool  # not in the database before this batch
    stage: Stage | None
    last: datetime | None
    steps: list[HistoryStep] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)


@dataclass
class _Batch:
    rows: list[ImportRow] = field(default_factory=list)
    rejected: dict[int, list[CellError]] = field(default_factory=dict)
    raw: dict[int, list[str]] = field(default_factory=dict)
    offset: int = 0
    count: int = 0


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
    writer = _Writer(job=job, mapping=mapping, definitions=definitions)
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


def _batches(rows: Iterable[Row], validator: RowValidator, size: int) -> Iterator[_Batch]:
    batch = _Batch()
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
            batch = _Batch()
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


class _Writer:
    """Writes batches of one job; holds what stays the same across batches (owners, now)."""

    def __init__(
        self, *, job: ImportJob, mapping: Mapping, definitions: dict[str, AttributeDefinition]
    ) -> None:
        self.job, self.mapping, self.definitions = job, mapping, definitions
        self.now = timezone.now()
        self.beat_at = job.heartbeat_at or self.now
        self.seen: set[str] = set()  # identities a dry run has "created"
        self._owners: dict[str, int] | None = None
        self._marketing_queue_id: int | None = None

    def _queue_id(self) -> int:
        if self._marketing_queue_id is None:
            self._marketing_queue_id = marketing_queue().pk
        return self._marketing_queue_id

    def write(self, batch: _Batch) -> None:
        created = updated = 0
        try:
            with transaction.atomic():
                if batch.rows:
                    created, updated = self._leads(batch)
                if self.job.dry_run:
                    raise _DryRun
                self._progress(batch, created, updated)
        except _DryRun:
            with transaction.atomic():
                self._progress(batch, created, updated)

    def _progress(self, batch: _Batch, created: int, updated: int) -> None:
        """Rejections and the job's counters, in the batch's transaction."""
        rejections = [
            ImportRejection(
                job_id=self.job.pk,
                row_number=number,
                column=column[:300],
                value=value,
                reason=reason,
                raw=batch.raw.get(number, []),
            )
            for number, errors in batch.rejected.items()
            for column, (value, reason) in _by_column(errors).items()
        ]
        ImportRejection.objects.bulk_create(rejections, batch_size=500)
        # The heartbeat rides on the progress UPDATE, so beating costs no query; it is
        # still written at most every HEARTBEAT_EVERY.
        now = timezone.now()
        beat: dict[str, datetime] = {}
        if now - self.beat_at >= HEARTBEAT_EVERY:
            beat["heartbeat_at"] = self.beat_at = now
        ImportJob.objects.filter(pk=self.job.pk).update(
            rows_done=F("rows_done") + batch.count,
            resume_row=F("resume_row") + batch.count,
            resume_offset=batch.offset,
            created=F("created") + created,
            updated=F("updated") + updated,
            rejected=F("rejected") + len(batch.rejected),
            **beat,
        )

    def _leads(self, batch: _Batch) -> tuple[int, int]:
        rows = batch.rows
        by_email, by_ext = self._find(rows)
        domains = [domain_normalize(row.domain or row.email) for row in rows]
        companies = self._companies(rows, domains)
        tracks: dict[int, _Track] = {}
        created = updated = 0
        for row, domain in zip(rows, domains, strict=True):
            lead = (by_email.get(row.email) if row.email else None) or (
                by_ext.get(row.external_id) if row.external_id else None
            )
            if lead is None and self.job.update_only:
                column = self.mapping.fields.get("email" if row.email else "external_id", "")
                batch.rejected[row.number] = [
                    CellError(
                        column,
                        row.email or row.external_id,
                        "no lead with this e-mail or external id to update (--update-only)",
                    )
                ]
                continue
            if lead is not None and row.external_id and lead.external_id is None:
                other = by_ext.get(row.external_id)
                if other is not None and other is not lead:
                    batch.rejected[row.number] = [
                        CellError(
                            self.mapping.fields.get("external_id", ""),
                            row.external_id,
                            f"the external id belongs to another lead than {row.email}",
                        )
                    ]
                    continue
            if lead is None:
                lead = _lead_new(
                    email=row.email or None,
                    external_id=row.external_id or None,
                    created_at=row.created_at or self.now,
                )
                lead.queue_id = self._queue_id()  # marketing's until someone owns it
                key = row.email or row.external_id
                if key in self.seen:
                    updated += 1
                else:
                    created += 1
                    if self.job.dry_run:
                        self.seen.add(key)
            else:
                updated += 1
            if row.email:
                by_email[row.email] = lead
            if row.external_id and (lead.external_id in (None, row.external_id)):
                by_ext[row.external_id] = lead
            track = tracks.get(id(lead))
            if track is None:
                new = lead.pk is None
                current = None if new else Stage(lead.stage)
                track = tracks[id(lead)] = _Track(lead, new, current, lead.stage_changed_at)
            self._apply(track, row, companies.get(domain))
            track.steps.extend(self._steps(track, row))
        self._save(tracks.values())
        return created, updated

    def _find(self, rows: list[ImportRow]) -> tuple[dict[str, Lead], dict[str, Lead]]:
        """The batch's known leads by e-mail and by external id.

        Which leads are known is asked in plain SQL (the ORM prepares each of a thousand
        parameters); only the known ones, none in a first import, are loaded as models.
        """
        emails = list({r.email for r in rows if r.email})
        ids = list({r.external_id for r in rows if r.external_id})
        quote = connection.ops.quote_name
        pks: list[int] = []
        with connection.cursor() as cursor:
            for some_emails, some_ids in _chunks(emails, ids):
                where = [
                    f"{quote(column)} IN ({', '.join(['%s'] * len(values))})"
                    for column, values in (("email", some_emails), ("external_id", some_ids))
                    if values
                ]
                cursor.execute(
                    f"SELECT {quote('id')} FROM {quote(Lead._meta.db_table)}"
                    f" WHERE {' OR '.join(where)}",
                    [*some_emails, *some_ids],
                )
                pks.extend(pk for (pk,) in cursor.fetchall())
        by_email: dict[str, Lead] = {}
        by_ext: dict[str, Lead] = {}
        for start in range(0, len(pks), _IN_CHUNK):
            for lead in Lead.objects.filter(pk__in=pks[start : start + _IN_CHUNK]):
                if lead.email:
                    by_email[lead.email] = lead
                if lead.external_id:
                    by_ext[lead.external_id] = lead
        return by_email, by_ext

    def _companies(self, rows: list[ImportRow], domains: list[str]) -> dict[str, Company]:
        """The companies the batch's rows name (as ``company_resolve``), created when new.

        `domains` are the rows' ``domain_normalize(row.domain or row.email)``.
        """
        names: dict[str, str] = {}
        free: dict[str, bool] = {}
        for row, candidate in zip(rows, domains, strict=True):
            if not candidate or "." not in candidate:
                continue
            is_free = free.get(candidate)
            if is_free is None:
                is_free = free[candidate] = is_free_mail(candidate)
            if not is_free:
                names[candidate] = names.get(candidate) or row.company.strip()
        if not names:
            return {}
        known: dict[str, Company] = {}
        domain_list = list(names)
        for start in range(0, len(domain_list), _IN_CHUNK):
            some = domain_list[start : start + _IN_CHUNK]
            known.update((c.domain, c) for c in Company.objects.filter(domain__in=some))
        new = [Company(domain=d, name=n or d) for d, n in names.items() if d not in known]
        for company in Company.objects.bulk_create(new):
            known[company.domain] = company
        renamed = [c for d, c in known.items() if names[d] and c.name == c.domain]
        for company in renamed:
            company.name = names[company.domain]
        if renamed:
            Company.objects.bulk_update(renamed, ["name"])
        return known

    def _apply(self, track: _Track, row: ImportRow, company: Company | None) -> None:
        """``leads.services._lead_apply`` for one row, in memory: empty never erases."""
        lead, changed = track.lead, track.changed
        values = lead.__dict__  # plain columns: no descriptor between us and the values
        if lead.email is None and row.email:
            lead.email = row.email
            changed.add("email")
        if lead.external_id is None and row.external_id:
            lead.external_id = row.external_id
            changed.add("external_id")
        for name, value in row.values.items():
            if name in _LEAD_FIELDS and value and values[name] != value:
                values[name] = value
                changed.add(name)
        if company is not None and lead.company_id is None:
            lead.company_id = company.pk
            changed.add("company")
        if row.attributes:
            merged = {**lead.attributes, **row.attributes}
            if merged != lead.attributes:
                lead.attributes = merged
                changed.add("attributes")
            self._choices(row)
        if row.source and not lead.source:  # the first-touch source is set once
            lead.source, lead.source_detail = row.source, row.source_detail
            changed.update(("source", "source_detail"))
        owner = self._owner(row.owner) if row.owner else None
        if owner is not None and lead.owner_id is None:
            lead.owner_id, lead.queue_id = owner, None  # a person owns it now, not a queue
            changed.update(("owner", "queue"))

    def _steps(self, track: _Track, row: ImportRow) -> list[HistoryStep]:
        """The row's stage history after what the lead already has (see module docstring)."""
        new = track.new and not track.steps
        if not (row.dates or row.stage or row.outcome):  # no history: a new lead's entry only
            if not new:
                return []
            entry = row.created_at or self.now
            if track.last is None:
                track.stage, track.last = Stage.LEAD, entry
            return [HistoryStep(to=Stage.LEAD, at=entry, rule=RULE)]
        lost_stage = self.mapping.outcome.lost_stage if self.mapping.outcome else Stage.NURTURE
        dated = sorted(
            ((at, STAGE_DATES[name] or lost_stage) for name, at in row.dates.items()),
            key=lambda item: (item[0], _ORDER[item[1]]),
        )
        steps: list[HistoryStep] = []

        def add(to: Stage, at: datetime) -> None:
            reason = ""
            if to in (Stage.NURTURE, Stage.DISQUALIFIED):
                reason = row.reject_reason or row.lost_reason
                if not reason and self.mapping.outcome and row.outcome == "lost":
                    reason = self.mapping.outcome.lost_reason
            steps.append(HistoryStep(to=to, at=at, rule=RULE, reason=reason[:100]))
            track.stage, track.last = to, at

        for at, to in dated:
            if track.last is None or at > track.last:
                add(to, at)
        # A row's current stage holds as of its latest date; a row older than the lead's
        # latest change (an older duplicate, a re-run) does not move it back.
        dates = [d for d in (row.created_at, *row.dates.values()) if d is not None]
        basis = max(dates) if dates else self.now
        if row.stage and row.stage != track.stage and (track.last is None or basis > track.last):
            add(row.stage, basis)
        fallback = self.now if not track.new else (row.created_at or self.now)
        if row.outcome:
            target = Stage.CUSTOMER if row.outcome == "won" else lost_stage
            if target != track.stage:
                at = row.outcome_at or fallback
                add(target, max(at, track.last) if track.last else at)
        if new and (not steps or steps[0].to not in _ENTRY):
            first = steps[0].at if steps else (row.created_at or self.now)
            entry = min(row.created_at or first, first)
            steps.insert(0, HistoryStep(to=Stage.LEAD, at=entry, rule=RULE))
            if track.last is None:
                track.stage, track.last = Stage.LEAD, entry
        return steps

    def _save(self, tracks: Iterable[_Track]) -> None:
        """Write the batch: known leads updated, new ones inserted, then all stage changes."""
        now = timezone.now()
        known = [t for t in tracks if not t.new]
        new = [t for t in tracks if t.new]
        histories: list[tuple[Lead, list[list[Any]]]] = []
        for track in (*known, *new):
            if track.steps:
                histories.append((track.lead, stage_history_rows(track.lead, track.steps, now=now)))
                track.changed.update(_STAGE_COLUMNS)
            track.lead.updated_at = now
        datetimes = _DatetimeAdapter()
        updated = [t for t in known if t.changed]
        if updated:
            fields = sorted({f for t in updated for f in t.changed} | {"updated_at"})
            _rows_update(Lead, [t.lead for t in updated], fields, datetimes)
        if new:
            _leads_insert([t.lead for t in new], datetimes)
        changes: list[list[Any]] = []
        adapt = datetimes.adapt
        for lead, rows in histories:
            pk = lead.pk
            for change in rows:
                change[0] = pk
                change[-1] = adapt(change[-1])
                changes.append(change)
        _changes_insert(changes)

    def _choices(self, row: ImportRow) -> None:
        for key, value in row.attributes.items():
            definition = self.definitions[key]
            if (
                definition.type == AttributeType.CATEGORY
                and value not in definition.choices
                and len(definition.choices) < _MAX_CHOICES
            ):
                definition.choices = [*definition.choices, value]
                AttributeDefinition.objects.filter(pk=definition.pk).update(
                    choices=definition.choices
                )

    def _owner(self, value: str) -> int | None:
        if not value:
            return None
        if self._owners is None:
            self._owners = {}
            for user in User.objects.filter(is_active=True):
                for key in (user.username, user.email, user.get_full_name()):
                    if key:
                        self._owners.setdefault(key.strip().lower(), user.pk)
        return self._owners.get(value.strip().lower())


def _by_column(errors: list[CellError]) -> dict[str, tuple[str, str]]:
    """One (value, reason) per column: a row's two errors in one column are joined."""
    out: dict[str, tuple[str, str]] = {}
    for error in errors:
        if error.column in out:
            value, reason = out[error.column]
            out[error.column] = (value, f"{reason}; {error.reason}")
        else:
            out[error.column] = (error.value, error.reason)
    return out


# --- The hot path's writes --------------------------------------------------------------------
# ``bulk_create`` prepares every value through the ORM's field machinery (two thirds of an
# import's time) and ``bulk_update`` builds a CASE per column and row (12 s for 690 leads), so
# ``stage_history_load`` is not used here: histories are replayed by its own
# ``stage_history_apply`` (the stamps of a live transition, the same checks), and the rows go
# in with one ``executemany`` per table, values converted once per column type.

# The Lead columns a replayed history may set (``lifecycle.services.stamp_fields``).
_STAGE_COLUMNS: Final = frozenset(
    {"stage", "stage_changed_at", "cycle"}
    | {f.name for f in Lead._meta.concrete_fields if f.name.endswith(("_first_at", "_last_at"))}
)


def stage_history_rows(
    lead: Lead, steps: Sequence[HistoryStep], *, now: datetime
) -> list[list[Any]]:
    """``stage_history_apply(lead, steps, strict=False, now=now)`` as rows for an INSERT.

    The same replay on `lead` (``stamp_fields``: stage, timestamps, cycle) and the same
    checks (``HistoryInvalid``), but each change is a list of the values of
    ``CHANGE_COLUMNS`` instead of a StageChange instance (building a model instance per change
    was a fifth of an import's time). The first value, the lead's id, is the lead's pk as it is
    now (None for a new lead: the caller sets it once the lead is inserted).
    """
    current: str = "" if lead.pk is None else Stage(lead.stage)
    last = lead.stage_changed_at
    rows: list[list[Any]] = []
    for number, step in enumerate(steps, start=1):
        at = step.at
        if at.utcoffset() is None or at > now or (last is not None and at < last):
            raise HistoryInvalid(
                f"Lead {lead.pk or lead.email or lead.external_id}, step {number} "
                f"({step.to}): {at.isoformat()} must be an aware time after the previous "
                "step and not in the future.",
                loc=("steps", number, "at"),
            )
        stamp_fields(lead, step.to, at)
        actor = step.actor_id
        rows.append(
            [
                lead.pk,
                current,
                step.to,
                actor,
                "" if actor else step.rule,
                step.reason,
                step.note,
                step.agreement_version,
                lead.cycle,
                at,
            ]
        )
        current, last = step.to, at
    return rows


# The columns of a StageChange row from ``stage_history_rows``, in order.
CHANGE_COLUMNS: Final = (
    "lead_id",
    "from_stage",
    "to_stage",
    "actor_id",
    "rule",
    "reason",
    "note",
    "agreement_version",
    "cycle",
    "at",
)
# Rows per query when a batch's identities are looked up (well under every database's limit
# on parameters).
_IN_CHUNK: Final = 5000


def _chunks(*lists: list[str]) -> Iterator[tuple[list[str], ...]]:
    """The lists cut into slices of at most ``_IN_CHUNK`` values in all, side by side."""
    longest = max((len(values) for values in lists), default=0)
    step = max(_IN_CHUNK // max(len(lists), 1), 1)
    for start in range(0, longest, step):
        yield tuple(values[start : start + step] for values in lists)


class _DatetimeAdapter:
    """A datetime as the ORM sends it to this database; repeated values are converted once.

    On SQLite with UTC the ORM stores an aware time as its naive UTC ``str()`` (what
    ``adapt_datetimefield_value`` does, without its checks); elsewhere the backend's own
    ``adapt_datetimefield_value`` is used. The memo lives for one batch.
    """

    def __init__(self) -> None:
        self._memo: dict[datetime, str] = {}
        self.adapt: Callable[[datetime | None], Any] = (
            self._sqlite
            if connection.vendor == "sqlite" and connection.timezone == UTC
            else connection.ops.adapt_datetimefield_value
        )

    def _sqlite(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        converted = self._memo.get(value)
        if converted is None:
            converted = self._memo[value] = _sqlite_datetime(value)
        return converted


def _leads_insert(leads: list[Lead], datetimes: _DatetimeAdapter) -> None:
    """Insert new `leads` and give each its pk (found again by its identity)."""
    _rows_insert(Lead, leads, datetimes)
    emails = [lead.email for lead in leads if lead.email]
    ids = [lead.external_id for lead in leads if not lead.email and lead.external_id]
    by_email: dict[str, int] = {}
    by_ext: dict[str, int] = {}
    table = connection.ops.quote_name(Lead._meta.db_table)
    with connection.cursor() as cursor:
        for column, values, found in (("email", emails, by_email), ("external_id", ids, by_ext)):
            for start in range(0, len(values), _IN_CHUNK):
                some = values[start : start + _IN_CHUNK]
                cursor.execute(
                    f"SELECT {connection.ops.quote_name('id')}, {connection.ops.quote_name(column)}"
                    f" FROM {table} WHERE {connection.ops.quote_name(column)} IN"
                    f" ({', '.join(['%s'] * len(some))})",
                    some,
                )
                found.update((key, pk) for pk, key in cursor.fetchall())
    for lead in leads:
        lead.pk = by_email[lead.email] if lead.email else by_ext[lead.external_id or ""]
        lead._state.adding = False


def _changes_insert(rows: list[list[Any]]) -> None:
    """One ``executemany`` INSERT of StageChange rows (values of ``CHANGE_COLUMNS``)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    column = {f.attname: f.column or f.name for f in StageChange._meta.concrete_fields}
    columns = [column[name] for name in CHANGE_COLUMNS]
    sql = (
        f"INSERT INTO {quote(StageChange._meta.db_table)} "
        f"({', '.join(quote(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


_TEMPLATE: dict[str, object] = {}


def _lead_new(*, email: str | None, external_id: str | None, created_at: datetime) -> Lead:
    """A new, unsaved Lead with the model's defaults, built without ``Model.__init__``."""
    if not _TEMPLATE:
        _TEMPLATE.update((k, v) for k, v in Lead().__dict__.items() if k != "_state")
    lead = Lead.__new__(Lead)
    lead.__dict__.update(_TEMPLATE)
    lead._state = ModelState()
    lead.email, lead.external_id, lead.created_at = email, external_id, created_at
    lead.attributes = {}
    return lead


_PLAIN: Final = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BooleanField,
    models.ForeignKey,
)


def _rows_insert(
    model: type[models.Model], objs: Sequence[models.Model], datetimes: _DatetimeAdapter
) -> None:
    """One ``executemany`` INSERT of `objs` (all columns but the auto pk), values as the ORM
    would store them."""
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
    rows = _values(objs, fields, datetimes)
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} "
        f"({', '.join(quote(f.column or f.name) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _rows_update(
    model: type[models.Model],
    objs: Sequence[models.Model],
    names: list[str],
    datetimes: _DatetimeAdapter,
) -> None:
    """One ``executemany`` UPDATE of the columns `names` of `objs`, by pk."""
    concrete = [f for f in (model._meta.get_field(n) for n in names) if isinstance(f, models.Field)]
    rows = _values(objs, concrete, datetimes)
    for row, obj in zip(rows, objs, strict=True):
        row.append(obj.pk)
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.column or f.name)} = %s" for f in concrete)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {quote('id')} = %s"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _values(
    objs: Sequence[models.Model], fields: list[models.Field[Any, Any]], datetimes: _DatetimeAdapter
) -> list[list[Any]]:
    """The column values of `objs` as the ORM would send them to the database."""
    convert = [_converter(f, datetimes) for f in fields]
    converted = [(i, c) for i, c in enumerate(convert) if c is not None]
    get = itemgetter(*(f.attname for f in fields))
    single = len(fields) == 1
    rows = []
    for obj in objs:
        row = [get(obj.__dict__)] if single else list(get(obj.__dict__))
        for i, c in converted:
            value = row[i]
            if value is not None:
                row[i] = c(value)
        rows.append(row)
    return rows


def _converter(
    f: models.Field[Any, Any], datetimes: _DatetimeAdapter
) -> Callable[[Any], Any] | None:
    """None when the value goes to the database as it is."""
    if isinstance(f, models.DateTimeField):
        return datetimes.adapt
    sqlite_utc = connection.vendor == "sqlite" and connection.timezone == UTC
    if isinstance(f, models.JSONField):
        return json.dumps if sqlite_utc and f.encoder is None else partial(_prep, f)
    if isinstance(f, _PLAIN):
        return None
    return partial(_prep, f)


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return str(value)


def _prep(f: models.Field[Any, Any], value: Any) -> Any:
    return f.get_db_prep_save(value, connection)

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
from datetime import UTC, datetime
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

from django.db import connection, models, transaction
from django.db.models import F, Q
from django.db.models.base import ModelState
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.capture.imports.errors import ImportFileInvalid, MappingInvalid
from leadloop.capture.imports.mapping import STAGE_DATES, Mapping, mapping_parse
from leadloop.capture.imports.reader import CsvReader, Row
from leadloop.capture.imports.validate import CellError, ImportRow, RowValidator
from leadloop.capture.models import ImportJob, ImportRejection, ImportStatus
from leadloop.leads.models import AttributeDefinition, AttributeType, Company, Lead, Stage
from leadloop.leads.services import LEAD_FIELDS, domain_normalize, is_free_mail
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import HistoryStep, stage_history_apply

BATCH_ROWS: Final = 1000
RULE: Final = "import"
_ENTRY: Final = frozenset({Stage.SUBSCRIBER, Stage.LEAD})
_ORDER: Final = {s: i for i, s in enumerate(Stage.values)}
_MAX_CHOICES: Final = 500

Progress = Callable[[ImportJob], None]


class _DryRun(Exception):
    """Raised inside a dry run's batch transaction to roll its writes back."""


@dataclass
class _Track:
    """A lead of the batch with what this batch does to it."""

    lead: Lead
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
    *, job_id: int, progress: Progress | None = None, batch_rows: int = BATCH_ROWS
) -> ImportJob:
    """Import the job's rows after its last committed batch; returns the finished job.

    Safe to call again after a crash: it resumes at ``resume_offset`` and counts on. Raises
    ImportFileInvalid or MappingInvalid (the job is then marked failed with the message).
    """
    job = ImportJob.objects.get(pk=job_id)
    if job.status == ImportStatus.DONE:
        return job
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
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, error="", started_at=job.started_at or timezone.now()
    )
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
        self.seen: set[str] = set()  # identities a dry run has "created"
        self._owners: dict[str, int] | None = None

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
        ImportJob.objects.filter(pk=self.job.pk).update(
            rows_done=F("rows_done") + batch.count,
            resume_row=F("resume_row") + batch.count,
            resume_offset=batch.offset,
            created=F("created") + created,
            updated=F("updated") + updated,
            rejected=F("rejected") + len(batch.rejected),
        )

    def _leads(self, batch: _Batch) -> tuple[int, int]:
        rows = batch.rows
        by_email, by_ext = self._find(rows)
        companies = self._companies(rows, by_email, by_ext)
        tracks: dict[int, _Track] = {}
        created = updated = 0
        for row in rows:
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
                current = Stage(lead.stage) if lead.pk else None
                track = tracks[id(lead)] = _Track(lead, current, lead.stage_changed_at)
            self._apply(track, row, companies)
            track.steps.extend(self._steps(track, row))
        self._save(tracks.values())
        return created, updated

    def _find(self, rows: list[ImportRow]) -> tuple[dict[str, Lead], dict[str, Lead]]:
        """The batch's known leads by e-mail and by external id, in one query."""
        emails = {r.email for r in rows if r.email}
        ids = {r.external_id for r in rows if r.external_id}
        found = Lead.objects.filter(Q(email__in=emails) | Q(external_id__in=ids))
        by_email: dict[str, Lead] = {}
        by_ext: dict[str, Lead] = {}
        for lead in found:
            if lead.email:
                by_email[lead.email] = lead
            if lead.external_id:
                by_ext[lead.external_id] = lead
        return by_email, by_ext

    def _companies(
        self, rows: list[ImportRow], by_email: dict[str, Lead], by_ext: dict[str, Lead]
    ) -> dict[str, Company]:
        """The companies the batch's rows name (as ``company_resolve``), created when new."""
        names: dict[str, str] = {}
        for row in rows:
            candidate = domain_normalize(row.domain or row.email)
            if candidate and "." in candidate and not is_free_mail(candidate):
                names[candidate] = names.get(candidate) or row.company.strip()
        if not names:
            return {}
        known = {c.domain: c for c in Company.objects.filter(domain__in=names)}
        new = [Company(domain=d, name=n or d) for d, n in names.items() if d not in known]
        for company in Company.objects.bulk_create(new):
            known[company.domain] = company
        renamed = [c for d, c in known.items() if names[d] and c.name == c.domain]
        for company in renamed:
            company.name = names[company.domain]
        if renamed:
            Company.objects.bulk_update(renamed, ["name"])
        return known

    def _apply(self, track: _Track, row: ImportRow, companies: dict[str, Company]) -> None:
        """``leads.services._lead_apply`` for one row, in memory: empty never erases."""
        lead, changed = track.lead, track.changed

        def put(name: str, value: object) -> None:
            if value not in ("", None) and getattr(lead, name) != value:
                setattr(lead, name, value)
                changed.add(name)

        if lead.email is None:
            put("email", row.email or None)
        if lead.external_id is None:
            put("external_id", row.external_id or None)
        for name in LEAD_FIELDS:
            put(name, row.values.get(name, ""))
        if lead.company_id is None:
            company = companies.get(domain_normalize(row.domain or row.email))
            if company is not None:
                lead.company = company
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
        owner = self._owner(row.owner)
        if owner is not None and lead.owner_id is None:
            lead.owner_id = owner
            changed.add("owner")

    def _steps(self, track: _Track, row: ImportRow) -> list[HistoryStep]:
        """The row's stage history after what the lead already has (see module docstring)."""
        lost_stage = self.mapping.outcome.lost_stage if self.mapping.outcome else Stage.NURTURE
        new = track.lead.pk is None and not track.steps
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
        fallback = self.now if track.lead.pk else (row.created_at or self.now)
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
        known = [t for t in tracks if t.lead.pk is not None]
        new = [t for t in tracks if t.lead.pk is None]
        changes: list[StageChange] = []
        for track in (*known, *new):
            if track.steps:
                changes.extend(stage_history_apply(track.lead, track.steps, strict=False, now=now))
                track.changed.update(_STAGE_COLUMNS)
            track.lead.updated_at = now
        updated = [t for t in known if t.changed]
        if updated:
            fields = sorted({f for t in updated for f in t.changed} | {"updated_at"})
            _rows_update(Lead, [t.lead for t in updated], fields)
        if new:
            _leads_insert([t.lead for t in new])
        for change in changes:
            change.lead_id = change.lead.pk
        _rows_insert(StageChange, changes)

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


def _leads_insert(leads: list[Lead]) -> None:
    """Insert new `leads` and give each its pk (found again by its identity)."""
    _rows_insert(Lead, leads)
    emails = [lead.email for lead in leads if lead.email]
    ids = [lead.external_id for lead in leads if not lead.email]
    by_email: dict[str, int] = {}
    by_ext: dict[str, int] = {}
    for pk, email, external_id in Lead.objects.filter(
        Q(email__in=emails) | Q(external_id__in=ids)
    ).values_list("pk", "email", "external_id"):
        if email:
            by_email[email] = pk
        if external_id:
            by_ext[external_id] = pk
    for lead in leads:
        lead.pk = by_email[lead.email] if lead.email else by_ext[lead.external_id or ""]
        lead._state.adding = False


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


def _rows_insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """One ``executemany`` INSERT of `objs` (all columns but the auto pk), values as the ORM
    would store them."""
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
    rows = _values(objs, fields)
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} "
        f"({', '.join(quote(f.column or f.name) for f in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _rows_update(model: type[models.Model], objs: Sequence[models.Model], names: list[str]) -> None:
    """One ``executemany`` UPDATE of the columns `names` of `objs`, by pk."""
    concrete = [f for f in (model._meta.get_field(n) for n in names) if isinstance(f, models.Field)]
    rows = [[*values, obj.pk] for values, obj in zip(_values(objs, concrete), objs, strict=True)]
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(f.column or f.name)} = %s" for f in concrete)
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {quote('id')} = %s"
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _values(objs: Sequence[models.Model], fields: list[models.Field[Any, Any]]) -> list[list[Any]]:
    """The column values of `objs` as the ORM would send them to the database."""
    convert = [_converter(f) for f in fields]
    converted = [(i, c) for i, c in enumerate(convert) if c is not None]
    get = attrgetter(*(f.attname for f in fields))
    rows = []
    for obj in objs:
        row = list(get(obj)) if len(fields) > 1 else [get(obj)]
        for i, c in converted:
            if row[i] is not None:
                row[i] = c(row[i])
        rows.append(row)
    return rows


def _converter(f: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """None when the value goes to the database as it is."""
    sqlite_utc = connection.vendor == "sqlite" and connection.timezone == UTC
    if isinstance(f, models.DateTimeField):
        # What SQLite's adapt_datetimefield_value does for an aware time, without its checks.
        return _sqlite_datetime if sqlite_utc else connection.ops.adapt_datetimefield_value
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

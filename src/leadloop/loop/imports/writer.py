"""One batch of validated rows written: leads created or updated (dedupe by e-mail, else
external id), companies by domain, typed attributes, stage histories; rejections recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.capture.imports.jobs import HEARTBEAT_EVERY
from leadloop.capture.imports.mapping import STAGE_DATES, Mapping
from leadloop.capture.imports.validate import CellError, ImportRow
from leadloop.capture.models import ImportJob, ImportRejection
from leadloop.leads.models import AttributeDefinition, AttributeType, Company, Lead, Stage
from leadloop.leads.services import LEAD_FIELDS, domain_normalize, is_free_mail
from leadloop.lifecycle.services import HistoryStep
from leadloop.loop.imports import writes
from leadloop.loop.imports.writes import (
    STAGE_COLUMNS,
    DatetimeAdapter,
    changes_insert,
    chunks,
    lead_new,
    leads_insert,
    rows_update,
    stage_history_rows,
)
from leadloop.loop.owners import marketing_queue


class DryRun(Exception):
    """Raised inside a dry run's batch transaction to roll its writes back."""


@dataclass(slots=True)
class Track:
    """A lead of the batch with what this batch does to it."""

    lead: Lead
    new: bool  # not in the database before this batch
    stage: Stage | None
    last: datetime | None
    steps: list[HistoryStep] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)


@dataclass
class Batch:
    rows: list[ImportRow] = field(default_factory=list)
    rejected: dict[int, list[CellError]] = field(default_factory=dict)
    raw: dict[int, list[str]] = field(default_factory=dict)
    offset: int = 0
    count: int = 0


RULE: Final = "import"


_ENTRY: Final = frozenset({Stage.SUBSCRIBER, Stage.LEAD})


_ORDER: Final = {s: i for i, s in enumerate(Stage.values)}


_LEAD_FIELDS: Final = frozenset(LEAD_FIELDS)


_MAX_CHOICES: Final = 500


class BatchWriter:
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

    def write(self, batch: Batch) -> None:
        created = updated = 0
        try:
            with transaction.atomic():
                if batch.rows:
                    created, updated = self._leads(batch)
                if self.job.dry_run:
                    raise DryRun
                self._progress(batch, created, updated)
        except DryRun:
            with transaction.atomic():
                self._progress(batch, created, updated)

    def _progress(self, batch: Batch, created: int, updated: int) -> None:
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

    def _leads(self, batch: Batch) -> tuple[int, int]:
        rows = batch.rows
        by_email, by_ext = self._find(rows)
        domains = [domain_normalize(row.domain or row.email) for row in rows]
        companies = self._companies(rows, domains)
        tracks: dict[int, Track] = {}
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
                lead = lead_new(
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
                track = tracks[id(lead)] = Track(lead, new, current, lead.stage_changed_at)
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
            for some_emails, some_ids in chunks(emails, ids):
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
        for start in range(0, len(pks), writes.IN_CHUNK):
            for lead in Lead.objects.filter(pk__in=pks[start : start + writes.IN_CHUNK]):
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
        for start in range(0, len(domain_list), writes.IN_CHUNK):
            some = domain_list[start : start + writes.IN_CHUNK]
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

    def _apply(self, track: Track, row: ImportRow, company: Company | None) -> None:
        """``leads.services.lead_apply`` for one row, in memory: empty never erases."""
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

    def _steps(self, track: Track, row: ImportRow) -> list[HistoryStep]:
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

    def _save(self, tracks: Iterable[Track]) -> None:
        """Write the batch: known leads updated, new ones inserted, then all stage changes."""
        now = timezone.now()
        known = [t for t in tracks if not t.new]
        new = [t for t in tracks if t.new]
        histories: list[tuple[Lead, list[list[Any]]]] = []
        for track in (*known, *new):
            if track.steps:
                histories.append((track.lead, stage_history_rows(track.lead, track.steps, now=now)))
                track.changed.update(STAGE_COLUMNS)
            track.lead.updated_at = now
        datetimes = DatetimeAdapter()
        updated = [t for t in known if t.changed]
        if updated:
            fields = sorted({f for t in updated for f in t.changed} | {"updated_at"})
            rows_update(Lead, [t.lead for t in updated], fields, datetimes)
        if new:
            leads_insert([t.lead for t in new], datetimes)
        changes: list[list[Any]] = []
        adapt = datetimes.adapt
        for lead, rows in histories:
            pk = lead.pk
            for change in rows:
                change[0] = pk
                change[-1] = adapt(change[-1])
                changes.append(change)
        changes_insert(changes)

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

"""The import's hot path writes in plain SQL: leads, their stage changes and updates, many
rows a statement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from operator import itemgetter
from typing import Any, Final

from django.db import connection, models
from django.db.models.base import ModelState

from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import HistoryInvalid, HistoryStep, stamp_fields

# The Lead columns a replayed history may set (``lifecycle.services.stamp_fields``).
STAGE_COLUMNS: Final = frozenset(
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
IN_CHUNK: Final = 5000


def chunks(*lists: list[str]) -> Iterator[tuple[list[str], ...]]:
    """The lists cut into slices of at most ``IN_CHUNK`` values in all, side by side."""
    longest = max((len(values) for values in lists), default=0)
    step = max(IN_CHUNK // max(len(lists), 1), 1)
    for start in range(0, longest, step):
        yield tuple(values[start : start + step] for values in lists)


class DatetimeAdapter:
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


def leads_insert(leads: list[Lead], datetimes: DatetimeAdapter) -> None:
    """Insert new `leads` and give each its pk (found again by its identity)."""
    _rows_insert(Lead, leads, datetimes)
    emails = [lead.email for lead in leads if lead.email]
    ids = [lead.external_id for lead in leads if not lead.email and lead.external_id]
    by_email: dict[str, int] = {}
    by_ext: dict[str, int] = {}
    table = connection.ops.quote_name(Lead._meta.db_table)
    with connection.cursor() as cursor:
        for column, values, found in (("email", emails, by_email), ("external_id", ids, by_ext)):
            for start in range(0, len(values), IN_CHUNK):
                some = values[start : start + IN_CHUNK]
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


def changes_insert(rows: list[list[Any]]) -> None:
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


def lead_new(*, email: str | None, external_id: str | None, created_at: datetime) -> Lead:
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
    model: type[models.Model], objs: Sequence[models.Model], datetimes: DatetimeAdapter
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


def rows_update(
    model: type[models.Model],
    objs: Sequence[models.Model],
    names: list[str],
    datetimes: DatetimeAdapter,
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
    objs: Sequence[models.Model], fields: list[models.Field[Any, Any]], datetimes: DatetimeAdapter
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
    f: models.Field[Any, Any], datetimes: DatetimeAdapter
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

"""``instances_insert``: ``bulk_create`` for the hot write paths, a few times cheaper.

``QuerySet.bulk_create`` compiles each value of each instance through three layers of the SQL
compiler (``pre_save_val``, ``prepare_value``, ``field_as_sql``): for a 40-column ``Lead`` that
cost ~0.3 ms a row on this project's reference machine, more than the database's own work, and
it was most of what capturing a form submission cost the worker. This inserts the same rows
— on SQLite with ``bulk_create``'s statement (a multi-row ``INSERT … RETURNING`` per batch,
primary keys back in order), on PostgreSQL one row's ``INSERT … RETURNING`` prepared and
pipelined — and adapts values as follows: a value its field would pass through unchanged (a
``str`` for a text column, an ``int`` for an integer or a foreign key, a ``bool``, a
``float``, a ``None`` where nulls are allowed) is taken as it is; every other value goes
through the field's own ``get_db_prep_save``, as ``bulk_create`` would. A field whose
``pre_save`` does something (``auto_now``, ``auto_now_add``, a file) runs it first. No
signals, as ``bulk_create``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connections, models, router

from leadloop.common.database import prepared_cursor

M = TypeVar("M", bound=models.Model)

_TEXT = (models.CharField, models.TextField)  # e-mail, slug, URL fields are CharFields
_WHOLE = (models.IntegerField,)  # big, small, positive… integers too
# A None these store as NULL, unchanged (not JSONField: it may store JSON null).
_NONE_PASSES = (
    *_TEXT,
    *_WHOLE,
    models.ForeignKey,
    models.BooleanField,
    models.FloatField,
    models.DateTimeField,
    models.DateField,
    models.DecimalField,
)


def _plain_type(field: models.Field[Any, Any]) -> type | None:
    """The one value type `field` stores unchanged, or None when every value is prepared."""
    if not type(field).__module__.startswith("django.db.models"):
        return None  # a field of another package's or ours: its own conversion, always
    if isinstance(field, models.ForeignKey):
        target = field.target_field
        return int if isinstance(target, models.AutoField | models.IntegerField) else None
    if isinstance(field, _TEXT):
        return str
    if isinstance(field, models.BooleanField):
        return bool
    if isinstance(field, _WHOLE):
        return int
    if isinstance(field, models.FloatField):
        return float
    return None


def _stamps(field: models.Field[Any, Any]) -> bool:
    """Whether `field`'s ``pre_save`` sets or changes its value (else it only reads it)."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return True
    plain = (models.Field.pre_save, models.DateField.pre_save, models.DateTimeField.pre_save)
    return type(field).pre_save not in plain


def instances_insert(objs: Sequence[M], *, batch_size: int | None = None) -> list[M]:
    """Insert unsaved instances of one model as ``bulk_create(objs, batch_size)`` would: the
    same rows, primary keys set on the instances, ``_state`` saved. Returns `objs`."""
    if not objs:
        return list(objs)
    model = type(objs[0])
    alias = router.db_for_write(model)
    connection = connections[alias]
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    if any(obj.pk is not None for obj in objs):
        raise ValueError(f"instances_insert inserts new {meta.label} rows only: one has a pk.")
    fields = [
        f
        for f in meta.concrete_fields
        if not (f.primary_key and f.auto_created) and not f.generated and not f.has_db_default()
    ]
    if len(fields) != len(meta.concrete_fields) - 1:
        raise ValueError(
            f"instances_insert needs an auto pk and no database-side values ({meta.label})."
        )
    stamped = [f for f in fields if _stamps(f)]
    columns_of: list[tuple[str, type | None, bool, Callable[..., Any]]] = [
        (
            f.attname,
            _plain_type(f),
            isinstance(f, _NONE_PASSES) and type(f).__module__.startswith("django.db.models"),
            f.get_db_prep_save,
        )
        for f in fields
    ]
    if not connection.features.can_return_rows_from_bulk_insert:  # SQLite before 3.35
        return model._default_manager.using(alias).bulk_create(objs, batch_size=batch_size)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    returning = f"RETURNING {quote(meta.db_table)}.{quote(pk.column or 'id')}"
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {{rows}} {returning}"
    size = _batch_rows(connection, len(fields), batch_size)
    for start in range(0, len(objs), size):
        batch = objs[start : start + size]
        params: list[Any] = []
        for obj in batch:
            for field in stamped:
                field.pre_save(obj, add=True)
            for attname, plain, none_passes, prep in columns_of:
                value = getattr(obj, attname)
                if (
                    (value is None and none_passes)
                    or (plain is not None and type(value) is plain)
                    or (plain is str and isinstance(value, str))  # a TextChoices member too
                ):
                    params.append(value)
                else:
                    params.append(prep(value, connection))
        keys = _insert(connection, sql, row_marks, params, len(batch), len(fields))
        for obj, (key,) in zip(batch, keys, strict=True):
            setattr(obj, pk.attname, key)
            obj._state.adding = False
            obj._state.db = alias
    return list(objs)


def _insert(
    connection: Any, sql: str, row_marks: str, params: list[Any], rows: int, width: int
) -> list[tuple[Any, ...]]:
    """Run the INSERT of `rows` rows of `width` `params` each; the returned primary keys."""
    with prepared_cursor(connection) as cursor:
        if connection.vendor == "postgresql":
            # One row's statement, prepared once and pipelined with its parameters bound by
            # the server: psycopg parses and quotes a client-side bound query in Python, which
            # for a 4,000-placeholder VALUES list cost more than the rows themselves.
            one_row, started = sql.format(rows=row_marks), time.monotonic()
            raw = cursor.cursor
            raw.executemany(
                one_row,
                [params[i : i + width] for i in range(0, len(params), width)],
                returning=True,
            )
            keys = [raw.fetchone()]
            while raw.nextset():
                keys.append(raw.fetchone())
            if connection.queries_logged:  # as Django's debug cursor logs an executemany
                connection.queries_log.append(
                    {"sql": f"{rows} times: {one_row}", "time": f"{time.monotonic() - started:.3f}"}
                )
            return keys
        cursor.execute(sql.format(rows=", ".join([row_marks] * rows)), params)
        return list(cursor.fetchall())


def _batch_rows(connection: Any, columns: int, batch_size: int | None) -> int:
    """Rows per statement: `batch_size`, within the database's limit on parameters."""
    if connection.vendor == "sqlite":
        # Django assumes SQLite's old default of 999; the library says what it was built with.
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    else:
        limit = 65535  # PostgreSQL's protocol: a 16-bit parameter count
    most = max(1, limit // columns)
    return min(most, batch_size) if batch_size else most

"""Keyset ("cursor") pagination, newest first.

A cursor is an opaque string holding the (time, id) of the last row a client has seen; the
next page is every row strictly after it in the order (time desc, id desc). Unlike an offset,
a row inserted meanwhile never shifts a page, rows that share a timestamp are neither skipped
nor repeated (the id breaks the tie), and the query stays an index range scan on both SQLite
and PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import models
from django.db.models import Q, QuerySet

from leadloop.common.errors import LeadloopError

M = TypeVar("M", bound=models.Model)

MAX_LIMIT = 500
_LOC = ("query", "cursor")


class CursorInvalid(LeadloopError):
    code = "cursor_invalid"


@dataclass(frozen=True)
class Cursor:
    at: dt.datetime  # aware
    id: int


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    next_cursor: str | None  # None on the last page


def cursor_encode(cursor: Cursor) -> str:
    """The opaque form of `cursor`: URL-safe base64 of a small JSON array, unpadded."""
    raw = json.dumps([cursor.at.astimezone(dt.UTC).isoformat(), cursor.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(value: str) -> Cursor:
    """The cursor `value` stands for; raises CursorInvalid (loc ``query.cursor``)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        at_text, row_id = json.loads(raw)
        at = dt.datetime.fromisoformat(at_text)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise CursorInvalid(_bad_cursor(value), loc=_LOC) from None
    if at.tzinfo is None or not isinstance(row_id, int) or isinstance(row_id, bool):
        raise CursorInvalid(_bad_cursor(value), loc=_LOC)
    return Cursor(at=at, id=row_id)


def _bad_cursor(value: str) -> str:
    shown = value if len(value) <= 40 else value[:40] + "…"
    return (
        f"{shown!r} is not a cursor of this list: pass the 'next_cursor' of the previous page "
        "unchanged, or leave 'cursor' out for the first page."
    )


def keyset_page(rows: QuerySet[M], *, cursor: str | None, limit: int, field: str) -> Page[M]:
    """At most `limit` of `rows` after `cursor`, ordered by (`field` desc, id desc)."""
    rows = rows.order_by(f"-{field}", "-id")
    if cursor:
        after = cursor_decode(cursor)
        rows = rows.filter(
            Q(**{f"{field}__lt": after.at}) | Q(**{field: after.at, "id__lt": after.id})
        )
    # One extra row says whether there is a next page, without a COUNT.
    items = list(rows[: limit + 1])
    if len(items) <= limit:
        return Page(items=items, next_cursor=None)
    items = items[:limit]
    last = items[-1]
    return Page(items=items, next_cursor=cursor_encode(Cursor(at=getattr(last, field), id=last.pk)))

"""The sweep's claims in SQL: flag the due clocks and write their outbox rows and in-app
notifications, set-based, so a sweep costs a few statements per batch of due clocks.

Recipients (notify.py has the words):

    reminder    the owner; a team clock: the team's active sales managers
    breach      the active sales managers of the clock's team, but not the owner
    escalation  the owner whose lead went back to the queue
    (a team without such a manager: its reminders and breaches go to the active revenue
    leaders, so nothing is told to nobody)

PostgreSQL: one statement per batch, a data-modifying CTE: the UPDATE claims up to `batch`
due clocks whose rows it can lock (FOR UPDATE SKIP LOCKED: two sweeps split the work), then
the messages of exactly those clocks are inserted, then their notifications. The claimed ids
go in as ``id = ANY (ARRAY (...))`` so the UPDATE finds them by primary key; as ``IN
(SELECT ...)`` the planner hash-joins them against the whole table.

SQLite: one writer at a time (the transaction is BEGIN IMMEDIATE), so within it the due clocks
are exactly the ones this sweep claims: the messages are inserted from the due clocks, their
notifications from the messages inserted after the highest id before, then the same clocks are
flagged with one UPDATE. (SQLite has no data-modifying CTEs and, by default, no UPDATE LIMIT:
all due clocks are claimed at once.)

The unique (clock, purpose, recipient) of the messages and the notification's key, the message
itself, make a second insert of the same row do nothing (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from leadloop.accounts.models import Role, User
from leadloop.sla.models import MessageChannel, MessagePurpose, Notification, SlaClock, SlaMessage

_CLOCK = SlaClock._meta.db_table
_USER = User._meta.db_table
_MESSAGE = SlaMessage._meta.db_table
_NOTIFICATION = Notification._meta.db_table
_MANAGER = Role.SALES_MANAGER.value
_LEADER = Role.REVENUE_LEADER.value

# Each part yields (clock_id, user_id) for the clocks `{clocks}` (a FROM item aliased c) that
# match `{where}`; the parts of one purpose never overlap, so UNION ALL needs no sort.
_TO_OWNER = f"""
SELECT c.id AS clock_id, u.id AS user_id FROM {{clocks}} JOIN {_USER} u ON u.id = c.owner_id
 WHERE ({{where}}) AND u.is_active"""
_TO_MANAGERS = f"""
SELECT c.id AS clock_id, u.id AS user_id FROM {{clocks}} JOIN {_USER} u ON u.team_id = c.team_id
 WHERE ({{where}}) AND u.role = '{_MANAGER}' AND u.is_active
   AND (c.owner_id IS NULL OR u.id <> c.owner_id)"""
_TO_LEADERS = f"""
SELECT c.id AS clock_id, u.id AS user_id FROM {{clocks}} JOIN {_USER} u ON u.role = '{_LEADER}'
 WHERE ({{where}}) AND u.is_active AND NOT EXISTS (
       SELECT 1 FROM {_USER} m WHERE m.team_id = c.team_id AND m.role = '{_MANAGER}'
          AND m.is_active AND (c.owner_id IS NULL OR m.id <> c.owner_id))"""
_RECIPIENTS: dict[MessagePurpose, tuple[str, ...]] = {
    MessagePurpose.REMINDER: (
        _TO_OWNER,
        _TO_MANAGERS + " AND c.owner_id IS NULL",
        _TO_LEADERS + " AND c.owner_id IS NULL",
    ),
    MessagePurpose.BREACH: (_TO_MANAGERS, _TO_LEADERS),
    MessagePurpose.ESCALATION: (_TO_OWNER,),
}
_MESSAGES = f"""
INSERT INTO {_MESSAGE} (clock_id, purpose, recipient_id, channel, detail, subject,
                        created_at, attempts, last_error)
SELECT r.clock_id, %s, r.user_id,
       CASE WHEN u.email = '' THEN '{MessageChannel.IN_APP.value}'
            ELSE '{MessageChannel.EMAIL.value}' END,
       %s, '', %s, 0, ''
  FROM ({{recipients}}) r JOIN {_USER} u ON u.id = r.user_id
 WHERE true
ON CONFLICT DO NOTHING"""

# The due clocks of each claim, as conditions on c (the partial indexes' conditions spelled
# out, so both databases read them from those indexes), and what the claim sets.
_DUE = {
    MessagePurpose.BREACH: (
        "{c}stopped_at IS NULL AND {c}breach_handled_at IS NULL AND {c}due_at <= %s",
        "breach_handled_at = %s, outcome = 'breached', breached_at = due_at, "
        "escalate = CASE WHEN owner_id IS NOT NULL THEN %s ELSE %s END",
        "due_at",
    ),
    MessagePurpose.REMINDER: (
        "{c}breach_handled_at IS NULL AND {c}remind_at IS NOT NULL AND {c}reminded_at IS NULL "
        "AND {c}stopped_at IS NULL AND {c}remind_at <= %s AND {c}due_at > %s",
        "reminded_at = %s",
        "remind_at",
    ),
}


def _due(purpose: MessagePurpose, alias: str = "c.") -> str:
    return _DUE[purpose][0].format(c=alias)


@dataclass(frozen=True)
class Claimed:
    clocks: int
    messages: int


def _recipients(
    purpose: MessagePurpose, clocks: str, where: str, params: Sequence[Any]
) -> tuple[str, list[Any]]:
    parts = [part.format(clocks=clocks, where=where) for part in _RECIPIENTS[purpose]]
    return " UNION ALL ".join(parts), list(params) * len(parts)


def _due_params(purpose: MessagePurpose, at: Any) -> list[Any]:
    return [at] if purpose == MessagePurpose.BREACH else [at, at]


def _set_params(purpose: MessagePurpose, at: Any, reassign: bool) -> list[Any]:
    return [at, reassign, False] if purpose == MessagePurpose.BREACH else [at]


def claim(purpose: MessagePurpose, *, now: dt.datetime, batch: int, reassign: bool) -> Claimed:
    """Claim the clocks due for `purpose` at `now` (breach or reminder) with their messages and
    notifications, in the caller's transaction. A breach of a person's clock is marked for
    escalation when `reassign`. PostgreSQL claims at most `batch` clocks per call."""
    at = connection.ops.adapt_datetimefield_value(now)
    if connection.vendor == "postgresql":
        return _claim_postgresql(purpose, at=at, batch=batch, reassign=reassign)
    return _claim_sqlite(purpose, at=at, reassign=reassign)


def _claim_postgresql(purpose: MessagePurpose, *, at: Any, batch: int, reassign: bool) -> Claimed:
    _where, sets, order = _DUE[purpose]
    where = _due(purpose)
    recipients, recipient_params = _recipients(purpose, "claimed c", "true", [])
    sql = f"""
WITH claimed AS (
    UPDATE {_CLOCK} SET {sets}
     WHERE id = ANY (ARRAY (SELECT c.id FROM {_CLOCK} c WHERE {where}
                            ORDER BY c.{order} LIMIT %s FOR UPDATE SKIP LOCKED))
    RETURNING id, owner_id, team_id
), written AS (
    {_MESSAGES.format(recipients=recipients)}
    RETURNING id, recipient_id
), notified AS (
    INSERT INTO {_NOTIFICATION} (message_id, user_id, created_at, read_at)
    SELECT id, recipient_id, %s, NULL FROM written
    ON CONFLICT DO NOTHING
)
SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM written)"""
    params = [
        *_set_params(purpose, at, reassign),
        *_due_params(purpose, at),
        batch,
        purpose.value,
        "",
        at,
        *recipient_params,
        at,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        clocks, messages = cursor.fetchone()
    return Claimed(clocks=clocks, messages=messages)


def _claim_sqlite(purpose: MessagePurpose, *, at: Any, reassign: bool) -> Claimed:
    sets = _DUE[purpose][1]
    due = _due_params(purpose, at)
    recipients, recipient_params = _recipients(purpose, f"{_CLOCK} c", _due(purpose), due)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {_MESSAGE}")
        (before,) = cursor.fetchone()
        cursor.execute(
            _MESSAGES.format(recipients=recipients), [purpose.value, "", at, *recipient_params]
        )
        messages = max(cursor.rowcount, 0)
        cursor.execute(
            f"INSERT INTO {_NOTIFICATION} (message_id, user_id, created_at, read_at) "
            f"SELECT id, recipient_id, %s, NULL FROM {_MESSAGE} WHERE id > %s "
            "ON CONFLICT DO NOTHING",
            [at, before],
        )
        # Unqualified columns: SQLite's UPDATE takes no table alias.
        cursor.execute(
            f"UPDATE {_CLOCK} SET {sets} WHERE {_due(purpose, alias='')}",
            [*_set_params(purpose, at, reassign), *due],
        )
        clocks = cursor.rowcount
    return Claimed(clocks=clocks, messages=messages)


def messages_write(
    clock_ids: Sequence[int], purpose: MessagePurpose, *, now: dt.datetime, detail: str = ""
) -> int:
    """Write the messages of `purpose` about the given clocks and their notifications (in the
    caller's transaction); rows that exist already are left alone. Returns the messages written.
    For the few clocks the sweep handles one by one (escalations)."""
    if not clock_ids:
        return 0
    at = connection.ops.adapt_datetimefield_value(now)
    marks = ", ".join(["%s"] * len(clock_ids))
    recipients, params = _recipients(purpose, f"{_CLOCK} c", f"c.id IN ({marks})", clock_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            _MESSAGES.format(recipients=recipients) + " RETURNING id, recipient_id",
            [purpose.value, detail, at, *params],
        )
        written = cursor.fetchall()  # only the rows inserted now (RETURNING after DO NOTHING)
        if written:
            rows = ", ".join(["(%s, %s, %s, NULL)"] * len(written))
            cursor.execute(
                f"INSERT INTO {_NOTIFICATION} (message_id, user_id, created_at, read_at) "
                f"VALUES {rows} ON CONFLICT DO NOTHING",
                [value for message_id, user_id in written for value in (message_id, user_id, at)],
            )
    return len(written)


def due_work(*, now: dt.datetime) -> tuple[bool, bool, bool]:
    """Whether anything is due at `now`: (breaches or reminders, escalations, e-mails) - one
    query through the partial indexes, so a sweep with nothing to do costs one round trip."""
    at = connection.ops.adapt_datetimefield_value(now)
    breach, remind = _due(MessagePurpose.BREACH), _due(MessagePurpose.REMINDER)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {_CLOCK} c WHERE {breach}) "
            f"OR EXISTS (SELECT 1 FROM {_CLOCK} c WHERE {remind}), "
            f"EXISTS (SELECT 1 FROM {_CLOCK} WHERE escalate AND escalated_at IS NULL), "
            f"EXISTS (SELECT 1 FROM {_MESSAGE} WHERE sent_at IS NULL "
            f"AND channel = '{MessageChannel.EMAIL.value}')",
            [at, at, at],
        )
        claims, escalations, emails = cursor.fetchone()
    return bool(claims), bool(escalations), bool(emails)

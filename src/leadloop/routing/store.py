"""The statements of routing's hot path, in plain SQL: what ``lead_route`` reads and writes.

Routing a lead is three statements on PostgreSQL (the lead, locked, with its company and
what is known of the qualification; the candidate reps with their absences and counters,
the rule's cursor moving in the same round trip; then the slot, the Assignment and the lead's
new owner in one statement) and six on SQLite, which has no data-modifying CTEs. Built
through the ORM, the same work took twelve statements, each costing 10-20 times the
database's own time to assemble, and qualifying-and-routing ran at an eighth of the rate of
bare qualifying (benchmarks/routing.py, docs/benchmarks.md). Each statement is built once
per database vendor from the models' table and column names; times, dates and JSON are
adapted by the backend's own operations, as the ORM would. Private to ``routing.services``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model
from django.utils.dateparse import parse_datetime

from leadloop.accounts.models import OutOfOffice, Role, Team, User
from leadloop.leads.models import Company, Lead
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment, LoadPeriod, RepLoad, RoundRobinCursor

_SALES_ROLES = (Role.SALES_REP.value, Role.SALES_MANAGER.value)
# A counter without a cap is compared with the largest value its column holds.
_NO_CAP = 2_147_483_647


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    found = model._meta.get_field(name)
    assert isinstance(found, Field)
    return found


def _t(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _c(model: type[Model], name: str) -> str:
    column = _field(model, name).column
    assert column is not None
    return connection.ops.quote_name(column)


def _for_update(alias: str | None = None) -> str:
    # SQLite runs one writer at a time (IMMEDIATE transactions) and has no row locks.
    if not connection.features.has_select_for_update:
        return ""
    return f" FOR UPDATE OF {alias}" if alias else " FOR UPDATE"


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _when(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _day(value: date) -> Any:
    return connection.ops.adapt_datefield_value(value)


def _datetime(value: Any) -> datetime | None:
    """A datetime as the driver returns it (SQLite: text in UTC) as an aware datetime."""
    if value is None:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else value
    assert isinstance(parsed, datetime)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# --- The lead -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadRow:
    """The routed lead: its attributes for the rules, its owner now, and what is known about
    the qualification being routed."""

    id: int
    country: str
    cycle: int
    owner_id: int | None
    queue_id: int | None
    company_id: int | None
    company_name: str
    company_country: str
    sector: str
    employees: int | None
    change_lead_id: int | None  # the lead the stage change belongs to (None: no such change)
    routed_id: int | None  # the assignment that already answered the stage change
    account_owner_id: int | None  # the sales person who owns most of the company's other leads


@cache
def _lead_sql(vendor: str, with_change: bool, named_account: bool) -> str:
    lead, user = _t(Lead), _t(User)
    change_sql = routed_sql = owner_sql = "NULL"
    if with_change:
        change_sql = (
            f"(SELECT {_c(StageChange, 'lead')} FROM {_t(StageChange)} "
            f"WHERE {_c(StageChange, 'id')} = %s)"
        )
        routed_sql = (
            f"(SELECT {_c(Assignment, 'id')} FROM {_t(Assignment)} "
            f"WHERE {_c(Assignment, 'stage_change')} = %s)"
        )
    if named_account:
        owner_sql = (
            f"(SELECT o.{_c(Lead, 'owner')} FROM {lead} o "
            f"JOIN {user} ou ON ou.{_c(User, 'id')} = o.{_c(Lead, 'owner')} "
            f"WHERE o.{_c(Lead, 'company')} = l.{_c(Lead, 'company')} "
            f"AND o.{_c(Lead, 'id')} <> l.{_c(Lead, 'id')} "
            f"AND ou.{_c(User, 'role')} IN ({_marks(len(_SALES_ROLES))}) "
            f"GROUP BY o.{_c(Lead, 'owner')} "
            f"ORDER BY COUNT(*) DESC, o.{_c(Lead, 'owner')} LIMIT 1)"
        )
    return (
        f"SELECT l.{_c(Lead, 'id')}, l.{_c(Lead, 'country')}, l.{_c(Lead, 'cycle')}, "
        f"l.{_c(Lead, 'owner')}, l.{_c(Lead, 'queue')}, l.{_c(Lead, 'company')}, "
        f"c.{_c(Company, 'name')}, c.{_c(Company, 'domain')}, c.{_c(Company, 'country')}, "
        f"c.{_c(Company, 'sector')}, c.{_c(Company, 'employee_count')}, "
        f"{change_sql}, {routed_sql}, {owner_sql} "
        f"FROM {lead} l LEFT JOIN {_t(Company)} c "
        f"ON c.{_c(Company, 'id')} = l.{_c(Lead, 'company')} "
        f"WHERE l.{_c(Lead, 'id')} = %s{_for_update('l')}"
    )


def lead_locked(
    *, lead_id: int, stage_change_id: int | None, named_account: bool
) -> LeadRow | None:
    """The lead's row, locked until commit, with its company and, in the same statement, the
    stage change's lead, its assignment and (when asked) the company's owner."""
    params: list[Any] = []
    if stage_change_id is not None:
        params += [stage_change_id, stage_change_id]
    if named_account:
        params += _SALES_ROLES
    sql = _lead_sql(connection.vendor, stage_change_id is not None, named_account)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, lead_id])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, country, cycle, owner_id, queue_id, company_id, name, domain, company_country = row[:9]
    sector, employees, change_lead_id, routed_id, account_owner_id = row[9:]
    return LeadRow(
        id=pk,
        country=country or "",
        cycle=cycle,
        owner_id=owner_id,
        queue_id=queue_id,
        company_id=company_id,
        company_name=name or domain or "",
        company_country=company_country or "",
        sector=sector or "",
        employees=employees,
        change_lead_id=change_lead_id,
        routed_id=routed_id,
        account_owner_id=account_owner_id,
    )


# --- The reps -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepRow:
    """A person routing may give a lead to, as routing sees them at a moment."""

    id: int
    username: str
    name: str  # as User.__str__: the full name, else the username
    is_active: bool
    time_zones: tuple[str, str]  # their own, their team's ("" when unset)
    away_until: datetime | None  # the end of an absence going on at the moment asked
    # (period, first day) -> count, for the days asked about; a missing key: no counter yet
    loads: dict[tuple[str, date], int] = field(default_factory=dict)


@cache
def _reps_sql(
    vendor: str, ids: int, usernames: int, team: bool, days: int, with_cursor: bool
) -> str:
    where: list[str] = []
    if ids:
        where.append(f"u.{_c(User, 'id')} IN ({_marks(ids)})")
    if usernames:
        where.append(f"u.{_c(User, 'username')} IN ({_marks(usernames)})")
    if team:
        where.append(
            f"(t.{_c(Team, 'name')} = %s AND u.{_c(User, 'role')} = %s "
            f"AND u.{_c(User, 'is_active')} = %s)"
        )
    ooo = _t(OutOfOffice)
    head = cursor_cols = ""
    if with_cursor:
        # PostgreSQL: the rule's cursor moves (and is locked) in the same round trip.
        head = f"WITH rr AS ({_cursor_sql(vendor)[0]}) "
        cursor_id, position = _c(RoundRobinCursor, "id"), _c(RoundRobinCursor, "position")
        cursor_cols = f", (SELECT rr.{cursor_id} FROM rr), (SELECT rr.{position} FROM rr)"
    return (
        f"{head}SELECT u.{_c(User, 'id')}, u.{_c(User, 'username')}, "
        f"u.{_c(User, 'first_name')}, u.{_c(User, 'last_name')}, u.{_c(User, 'is_active')}, "
        f"u.{_c(User, 'time_zone')}, t.{_c(Team, 'time_zone')}, "
        f"(SELECT MAX(a.{_c(OutOfOffice, 'ends_at')}) FROM {ooo} a "
        f"WHERE a.{_c(OutOfOffice, 'user')} = u.{_c(User, 'id')} "
        f"AND a.{_c(OutOfOffice, 'starts_at')} <= %s AND a.{_c(OutOfOffice, 'ends_at')} > %s), "
        f"r.{_c(RepLoad, 'period')}, r.{_c(RepLoad, 'starts_on')}, r.{_c(RepLoad, 'count')}"
        f"{cursor_cols} "
        f"FROM {_t(User)} u LEFT JOIN {_t(Team)} t ON t.{_c(Team, 'id')} = u.{_c(User, 'team')} "
        f"LEFT JOIN {_t(RepLoad)} r ON r.{_c(RepLoad, 'user')} = u.{_c(User, 'id')} "
        f"AND r.{_c(RepLoad, 'starts_on')} IN ({_marks(days)}) "
        f"WHERE {' OR '.join(where)}"
    )


@dataclass(frozen=True)
class Turn:
    """A round-robin cursor moved one turn on: `turn` is the position taken."""

    cursor_id: int
    turn: int


def reps(
    *,
    ids: Iterable[int] = (),
    usernames: Iterable[str] = (),
    team: str = "",
    at: datetime,
    days: Iterable[date],
    cursor_key: str | None = None,
) -> tuple[list[RepRow], Turn | None]:
    """The users with these ids or usernames, and the active sales reps of `team`: each with
    the end of an absence going on at `at`, and their counters that start on `days`. With a
    `cursor_key`, that round-robin cursor also moves one turn on (``cursor_advance``)."""
    ids, usernames, starts = list(ids), list(usernames), sorted(set(days))
    if not (ids or usernames or team):
        return [], None
    fused = cursor_key is not None and connection.vendor == "postgresql"
    params: list[Any] = [cursor_key] if fused else []
    params += [_when(at), _when(at), *(_day(d) for d in starts), *ids, *usernames]
    if team:
        params += [team, Role.SALES_REP.value, True]
    sql = _reps_sql(connection.vendor, len(ids), len(usernames), bool(team), len(starts), fused)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found: dict[int, RepRow] = {}
    turn: Turn | None = None
    for row in rows:
        pk, username, first, last, active, own, team_zone, away, period, starts_on, count = row[:11]
        if fused and row[11] is not None:
            turn = Turn(cursor_id=row[11], turn=row[12] - 1)
        rep = found.get(pk)
        if rep is None:
            rep = found[pk] = RepRow(
                id=pk,
                username=username,
                name=f"{first} {last}".strip() or username,
                is_active=bool(active),
                time_zones=(own or "", team_zone or ""),
                away_until=_datetime(away),
            )
        if period is not None:
            rep.loads[(period, _date(starts_on))] = count
    if cursor_key is not None and turn is None:
        # SQLite, or the cursor's first turn ever (no row to move yet).
        turn = cursor_advance(key=cursor_key) if found else None
    return list(found.values()), turn


# --- Writes -------------------------------------------------------------------------------------


@cache
def _cursor_sql(vendor: str) -> tuple[str, str, str]:
    table = _t(RoundRobinCursor)
    key, position = _c(RoundRobinCursor, "key"), _c(RoundRobinCursor, "position")
    return (
        f"UPDATE {table} SET {position} = {position} + 1 WHERE {key} = %s "
        f"RETURNING {_c(RoundRobinCursor, 'id')}, {position}",
        f"INSERT INTO {table} ({key}, {position}) VALUES (%s, 0) ON CONFLICT ({key}) DO NOTHING",
        f"UPDATE {table} SET {position} = %s WHERE {_c(RoundRobinCursor, 'id')} = %s",
    )


def cursor_advance(*, key: str) -> Turn:
    """Move the round-robin cursor `key` one turn on (made when missing) and return the turn
    taken: the UPDATE locks the cursor until commit, so a rule's picks take turns."""
    advance, insert, _set = _cursor_sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(advance, [key])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(insert, [key])
            cursor.execute(advance, [key])
            row = cursor.fetchone()
    return Turn(cursor_id=row[0], turn=row[1] - 1)


def cursor_set(*, cursor_id: int, position: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(_cursor_sql(connection.vendor)[2], [position, cursor_id])


@cache
def _counters_create_sql(vendor: str, rows: int) -> str:
    user, period, starts_on = _c(RepLoad, "user"), _c(RepLoad, "period"), _c(RepLoad, "starts_on")
    values = ", ".join(["(%s, %s, %s, 0)"] * rows)
    return (
        f"INSERT INTO {_t(RepLoad)} ({user}, {period}, {starts_on}, {_c(RepLoad, 'count')}) "
        f"VALUES {values} ON CONFLICT ({user}, {period}, {starts_on}) DO NOTHING"
    )


def counters_create(*, user_id: int, counters: Sequence[tuple[str, date]]) -> None:
    """Make the rep's (period, first day) counters at 0; ON CONFLICT DO NOTHING, since
    another worker may make one at the same moment."""
    params = [v for period, starts_on in counters for v in (user_id, period, _day(starts_on))]
    with connection.cursor() as cursor:
        cursor.execute(_counters_create_sql(connection.vendor, len(counters)), params)


@dataclass(frozen=True)
class Take:
    """One lead more on a rep's day and week counters, each only while under its cap."""

    user_id: int
    day: date
    day_cap: int | None
    week: date
    week_cap: int | None

    def params(self) -> list[Any]:
        return [
            self.user_id,
            LoadPeriod.DAY.value,
            _day(self.day),
            self.day_cap or _NO_CAP,
            LoadPeriod.WEEK.value,
            _day(self.week),
            self.week_cap or _NO_CAP,
        ]


_ASSIGNMENT_FIELDS = (
    "lead_id",
    "cycle",
    "kind",
    "assignee_id",
    "queue_id",
    "previous_assignee_id",
    "previous_queue_id",
    "rule",
    "why",
    "explanation",
    "agreement_version",
    "stage_change_id",
    "actor_id",
    "at",
)


@dataclass(frozen=True)
class _WriteSql:
    fields: tuple[Field[Any, Any], ...]
    take: str
    insert: str
    owner: str
    together: str  # PostgreSQL: the three in one statement


@cache
def _write_sql(vendor: str, with_take: bool) -> _WriteSql:
    fields = tuple(_field(Assignment, name.removesuffix("_id")) for name in _ASSIGNMENT_FIELDS)
    count = _c(RepLoad, "count")
    user, period, starts_on = _c(RepLoad, "user"), _c(RepLoad, "period"), _c(RepLoad, "starts_on")
    take = (
        f"UPDATE {_t(RepLoad)} SET {count} = {count} + 1 WHERE {user} = %s AND ("
        f"({period} = %s AND {starts_on} = %s AND {count} < %s) OR "
        f"({period} = %s AND {starts_on} = %s AND {count} < %s)) RETURNING {period}"
    )
    change = _c(Assignment, "stage_change")
    # The unique (partial) index on stage_change: a qualification already answered inserts
    # nothing, and RETURNING says so.
    insert = (
        f"INSERT INTO {_t(Assignment)} ({', '.join(_c(Assignment, f.name) for f in fields)}) "
        f"VALUES ({_marks(len(fields))}) "
        f"ON CONFLICT ({change}) WHERE {change} IS NOT NULL DO NOTHING "
        f"RETURNING {_c(Assignment, 'id')}"
    )
    owner = (
        f"UPDATE {_t(Lead)} SET {_c(Lead, 'owner')} = %s, {_c(Lead, 'queue')} = %s, "
        f"{_c(Lead, 'updated_at')} = %s WHERE {_c(Lead, 'id')} = %s"
    )
    taken = "(SELECT COUNT(*) FROM t)" if with_take else "NULL"
    together = (
        ("WITH t AS (" + take + "), " if with_take else "WITH ")
        + f"a AS ({insert}), o AS ({owner} AND EXISTS (SELECT 1 FROM a)) "
        + f"SELECT {taken}, (SELECT a.id FROM a)"
    )
    return _WriteSql(fields=fields, take=take, insert=insert, owner=owner, together=together)


@dataclass(frozen=True)
class Written:
    taken: int | None  # how many of the take's counters were counted (None: no take)
    assignment: Assignment | None  # None: the stage change has an assignment already


def assignment_write(*, take: Take | None, owner_at: datetime, **values: Any) -> Written:
    """Take the slot (when given), insert the Assignment (every field of
    ``_ASSIGNMENT_FIELDS``) and set its owner or queue on the lead, whose ``updated_at``
    becomes `owner_at`. One statement on PostgreSQL. When the take counts fewer than both
    counters or the stage change is answered already, the caller rolls the transaction back:
    whatever was written is undone."""
    sql = _write_sql(connection.vendor, take is not None)
    # Only two columns need adapting: the time (SQLite stores naive UTC text) and the JSON.
    params = [
        _when(values[name])
        if name == "at"
        else connection.ops.adapt_json_value(values[name], None)
        if name == "explanation"
        else values[name]
        for name in _ASSIGNMENT_FIELDS
    ]
    owner = [values["assignee_id"], values["queue_id"], _when(owner_at), values["lead_id"]]
    taken: int | None = None
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(sql.together, [*(take.params() if take else []), *params, *owner])
            taken, pk = cursor.fetchone()
        else:
            if take is not None:
                cursor.execute(sql.take, take.params())
                taken = len(cursor.fetchall())
                if taken < 2:
                    return Written(taken=taken, assignment=None)
            cursor.execute(sql.insert, params)
            row = cursor.fetchone()
            pk = row[0] if row else None
            if pk is not None:
                cursor.execute(sql.owner, owner)
    if pk is None:
        return Written(taken=taken, assignment=None)
    assignment = Assignment(id=pk, **values)
    assignment._state.adding = False
    assignment._state.db = connection.alias
    return Written(taken=taken, assignment=assignment)

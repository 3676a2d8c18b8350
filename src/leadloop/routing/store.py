"""The statements of routing's hot path, in plain SQL: what ``lead_route`` reads and writes.

Routing a lead is three statements on PostgreSQL (the lead, locked, with its company and
what is known of the qualification; the candidate reps with their absences and counters,
the rule's cursor moving in the same round trip; then the slot, the Assignment and the lead's
new owner in one statement) and six on SQLite, which has no data-modifying CTEs. Built
through the ORM, the same work took twelve statements, each costing 10-20 times the
database's own time to assemble, and qualifying-and-routing ran at an eighth of the rate of
bare qualifying (benchmarks/routing.py, docs/benchmarks.md). Each statement is built once
per database vendor from the models' table and column names; times, dates and JSON are
adapted by the backend's own operations, as the ORM would. On PostgreSQL they run through
``common.database.prepared_cursor``: prepared on each connection, so PostgreSQL plans them
once, not at every routing (planning them took longer than running them). Private to
``routing.services``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model
from django.utils.dateparse import parse_datetime

from leadloop.accounts.models import OutOfOffice, Role, Team, User
from leadloop.common.database import prepared_cursor
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
    account_owner_known: bool = True  # False: not read yet (``reps(account_of=...)`` reads it)

    @classmethod
    def of(cls, lead: Lead) -> LeadRow:
        """The lead as its caller has just locked and read it, with its company: a
        qualification that routes its own MQL need not read it again. Its stage change is
        the caller's own (not answered yet); the company's owner is read with the reps."""
        company = lead.company
        return cls(
            id=lead.pk,
            country=lead.country or "",
            cycle=lead.cycle,
            owner_id=lead.owner_id,
            queue_id=lead.queue_id,
            company_id=lead.company_id,
            company_name=(company.name or company.domain or "") if company else "",
            company_country=(company.country or "") if company else "",
            sector=(company.sector or "") if company else "",
            employees=company.employee_count if company else None,
            change_lead_id=lead.pk,
            routed_id=None,
            account_owner_id=None,
            account_owner_known=company is None,
        )


def _account_owner_sql(company: str, lead: str) -> str:
    """The sales person who owns most of `company`'s leads other than `lead` (SQL
    expressions or marks), ties to the lower id; followed by the sales roles' marks."""
    return (
        f"SELECT o.{_c(Lead, 'owner')} FROM {_t(Lead)} o "
        f"JOIN {_t(User)} ou ON ou.{_c(User, 'id')} = o.{_c(Lead, 'owner')} "
        f"WHERE o.{_c(Lead, 'company')} = {company} AND o.{_c(Lead, 'id')} <> {lead} "
        f"AND ou.{_c(User, 'role')} IN ({_marks(len(_SALES_ROLES))}) "
        f"GROUP BY o.{_c(Lead, 'owner')} ORDER BY COUNT(*) DESC, o.{_c(Lead, 'owner')} LIMIT 1"
    )


@cache
def _lead_sql(vendor: str, with_change: bool, named_account: bool) -> str:
    lead = _t(Lead)
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
        company, pk = _c(Lead, "company"), _c(Lead, "id")
        owner_sql = f"({_account_owner_sql(f'l.{company}', f'l.{pk}')})"
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
    with prepared_cursor() as cursor:
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


@dataclass(slots=True)
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
    vendor: str, ids: int, usernames: int, team: bool, days: int, with_cursor: bool, account: bool
) -> str:
    """The reps statement; its marks in order: the cursor's key (`with_cursor`), the account's
    company, lead and roles (`account`), the moment twice, then (`account`) the rule's
    ids/usernames/team once for its column, the days, and the rule's ids/usernames/team."""
    user_id = f"u.{_c(User, 'id')}"
    rule: list[str] = []
    if ids:
        rule.append(f"{user_id} IN ({_marks(ids)})")
    if usernames:
        rule.append(f"u.{_c(User, 'username')} IN ({_marks(usernames)})")
    if team:
        rule.append(
            f"(t.{_c(Team, 'name')} = %s AND u.{_c(User, 'role')} = %s "
            f"AND u.{_c(User, 'is_active')} = %s)"
        )
    ooo = _t(OutOfOffice)
    ctes: list[str] = []
    cursor_cols = ""
    if with_cursor:
        # PostgreSQL: the rule's cursor moves (and is locked) in the same round trip.
        ctes.append(f"rr AS ({_cursor_sql(vendor)[0]})")
        cursor_id, position = _c(RoundRobinCursor, "id"), _c(RoundRobinCursor, "position")
        cursor_cols = f", (SELECT rr.{cursor_id} FROM rr), (SELECT rr.{position} FROM rr)"
    where = " OR ".join(rule)
    account_cols = ", NULL, NULL"
    if account:
        # The lead's account owner, read with the rule's reps (a named-account rule first).
        ctes.append(f"ao (owner) AS ({_account_owner_sql('%s', '%s')})")
        in_rule = f"({where})" if rule else "(1 = 0)"
        account_cols = f", {user_id} IN (SELECT ao.owner FROM ao), {in_rule}"
        where = " OR ".join([*rule, f"{user_id} IN (SELECT ao.owner FROM ao)"])
    head = f"WITH {', '.join(ctes)} " if ctes else ""
    return (
        f"{head}SELECT {user_id}, u.{_c(User, 'username')}, "
        f"u.{_c(User, 'first_name')}, u.{_c(User, 'last_name')}, u.{_c(User, 'is_active')}, "
        f"u.{_c(User, 'time_zone')}, t.{_c(Team, 'time_zone')}, "
        f"(SELECT MAX(a.{_c(OutOfOffice, 'ends_at')}) FROM {ooo} a "
        f"WHERE a.{_c(OutOfOffice, 'user')} = {user_id} "
        f"AND a.{_c(OutOfOffice, 'starts_at')} <= %s AND a.{_c(OutOfOffice, 'ends_at')} > %s), "
        f"r.{_c(RepLoad, 'period')}, r.{_c(RepLoad, 'starts_on')}, r.{_c(RepLoad, 'count')}"
        f"{account_cols}{cursor_cols} "
        f"FROM {_t(User)} u LEFT JOIN {_t(Team)} t ON t.{_c(Team, 'id')} = u.{_c(User, 'team')} "
        f"LEFT JOIN {_t(RepLoad)} r ON r.{_c(RepLoad, 'user')} = {user_id} "
        f"AND r.{_c(RepLoad, 'starts_on')} IN ({_marks(days)}) "
        f"WHERE {where}"
    )


@dataclass(frozen=True)
class Turn:
    """A round-robin cursor moved one turn on: `turn` is the position taken."""

    cursor_id: int
    turn: int


@dataclass(frozen=True)
class Candidates:
    reps: list[RepRow]
    turn: Turn | None  # the cursor's turn taken, when one was asked for
    account_owner: RepRow | None = None  # asked with `account_of`: the lead's account owner


def reps(
    *,
    ids: Iterable[int] = (),
    usernames: Iterable[str] = (),
    team: str = "",
    at: datetime,
    days: Iterable[date],
    cursor_key: str | None = None,
    account_of: LeadRow | None = None,
) -> Candidates:
    """The users with these ids or usernames, and the active sales reps of `team`: each with
    the end of an absence going on at `at`, and their counters that start on `days`. With a
    `cursor_key`, that round-robin cursor also moves one turn on (``cursor_advance``); with
    `account_of`, the sales person owning most of that lead's company's other leads is read
    in the same statement (``account_owner``), whether or not the rule names them."""
    conn = connections[DEFAULT_DB_ALIAS]
    ids, usernames, starts = list(ids), list(usernames), sorted(set(days))
    account = account_of is not None and account_of.company_id is not None
    if not (ids or usernames or team or account):
        return Candidates(reps=[], turn=None)
    vendor = conn.vendor
    fused = cursor_key is not None and vendor == "postgresql"
    rule_params: list[Any] = [*ids, *usernames]
    if team:
        rule_params += [team, Role.SALES_REP.value, True]
    when = conn.ops.adapt_datetimefield_value(at)
    adapt_day = conn.ops.adapt_datefield_value
    params: list[Any] = [cursor_key] if fused else []
    if account:
        assert account_of is not None
        params += [account_of.company_id, account_of.id, *_SALES_ROLES, when, when, *rule_params]
    else:
        params += [when, when]
    params += [*(adapt_day(d) for d in starts), *rule_params]
    sql = _reps_sql(vendor, len(ids), len(usernames), bool(team), len(starts), fused, account)
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found: dict[int, RepRow] = {}
    in_rule: set[int] = set()
    turn: Turn | None = None
    owner_id: int | None = None
    first_days = {adapt_day(d): d for d in starts}  # as the driver returns them: no parsing
    for row in rows:
        pk, username, first, last, active, own, team_zone, away, period, starts_on, count = row[:11]
        if not account or row[12]:
            in_rule.add(pk)
        if row[11]:
            owner_id = pk
        if fused and row[13] is not None:
            turn = Turn(cursor_id=row[13], turn=row[14] - 1)
        rep = found.get(pk)
        if rep is None:
            rep = found[pk] = RepRow(
                id=pk,
                username=username,
                name=f"{first} {last}".strip() or username,
                is_active=bool(active),
                time_zones=(own or "", team_zone or ""),
                away_until=_datetime(away) if away is not None else None,
            )
        if period is not None:
            day = first_days.get(starts_on)
            rep.loads[(period, day if day is not None else _date(starts_on))] = count
    if cursor_key is not None and turn is None:
        # SQLite, or the cursor's first turn ever (no row to move yet).
        turn = cursor_advance(key=cursor_key) if in_rule else None
    return Candidates(
        reps=[rep for pk, rep in found.items() if pk in in_rule],
        turn=turn,
        account_owner=found.get(owner_id) if owner_id is not None else None,
    )


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
    with prepared_cursor() as cursor:
        cursor.execute(advance, [key])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(insert, [key])
            cursor.execute(advance, [key])
            row = cursor.fetchone()
    return Turn(cursor_id=row[0], turn=row[1] - 1)


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
    with prepared_cursor() as cursor:
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
_AT = _ASSIGNMENT_FIELDS.index("at")
_EXPLANATION = _ASSIGNMENT_FIELDS.index("explanation")


@dataclass(frozen=True)
class _WriteSql:
    fields: tuple[Field[Any, Any], ...]
    take: str
    insert: str
    owner: str
    together: str  # PostgreSQL: the three in one statement
    release: str  # gives back one counted counter


@cache
def _write_sql(vendor: str, with_take: bool, moves: int = 0) -> _WriteSql:
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
    columns = ", ".join(_c(Assignment, f.name) for f in fields)
    conflict = (
        f"ON CONFLICT ({change}) WHERE {change} IS NOT NULL DO NOTHING "
        f"RETURNING {_c(Assignment, 'id')}"
    )
    insert = f"INSERT INTO {_t(Assignment)} ({columns}) VALUES ({_marks(len(fields))}) {conflict}"
    # PostgreSQL, with a take: the Assignment only when the take counted both counters.
    insert_taken = (
        f"INSERT INTO {_t(Assignment)} ({columns}) SELECT {_marks(len(fields))} "
        f"WHERE (SELECT COUNT(*) FROM t) = 2 {conflict}"
    )
    owner = (
        f"UPDATE {_t(Lead)} SET {_c(Lead, 'owner')} = %s, {_c(Lead, 'queue')} = %s, "
        f"{_c(Lead, 'updated_at')} = %s WHERE {_c(Lead, 'id')} = %s"
    )
    taken = f"(SELECT STRING_AGG(t.{period}, ',') FROM t)" if with_take else "NULL"
    # The rules' cursors the walk moved past unavailable reps (or gave back), set here.
    moved = "".join(f"m{i} AS ({_cursor_sql(vendor)[2]}), " for i in range(moves))
    together = (
        f"WITH {moved}"
        + (f"t AS ({take}), a AS ({insert_taken}), " if with_take else f"a AS ({insert}), ")
        + f"o AS ({owner} AND EXISTS (SELECT 1 FROM a)) "
        + f"SELECT {taken}, (SELECT a.id FROM a)"
    )
    release = (
        f"UPDATE {_t(RepLoad)} SET {count} = {count} - 1 "
        f"WHERE {user} = %s AND {period} = %s AND {starts_on} = %s"
    )
    return _WriteSql(
        fields=fields, take=take, insert=insert, owner=owner, together=together, release=release
    )


@dataclass(frozen=True)
class Written:
    taken: int | None  # how many of the take's counters were counted (None: no take)
    assignment: Assignment | None  # None: not written (a counter was full, or answered already)


def assignment_write(
    *,
    take: Take | None,
    owner_at: datetime,
    cursor_moves: Sequence[tuple[int, int]] = (),
    **values: Any,
) -> Written:
    """Set the round-robin cursors of `cursor_moves` ((cursor id, position) pairs), take the
    slot (when given), insert the Assignment (every field of ``_ASSIGNMENT_FIELDS``) and set
    its owner or queue on the lead, whose ``updated_at`` becomes `owner_at`. One statement on
    PostgreSQL.

    All or nothing without a savepoint: when the take counts fewer than both counters (one
    filled up since it was read), or the stage change has its assignment already, nothing
    else is written and what the take counted is given back (one more statement), so a
    caller inside a longer transaction need not roll anything back."""
    conn = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each proxy lookup costs
    sql = _write_sql(conn.vendor, take is not None, len(cursor_moves))
    ops = conn.ops
    moves = [v for cursor_id, position in cursor_moves for v in (position, cursor_id)]
    # Only two columns need adapting: the time (SQLite stores naive UTC text) and the JSON.
    params = [values[name] for name in _ASSIGNMENT_FIELDS]
    params[_AT] = ops.adapt_datetimefield_value(values["at"])
    params[_EXPLANATION] = ops.adapt_json_value(values["explanation"], None)
    owner = [
        values["assignee_id"],
        values["queue_id"],
        ops.adapt_datetimefield_value(owner_at),
        values["lead_id"],
    ]
    counted: list[str] = []
    with prepared_cursor() as cursor:
        if conn.vendor == "postgresql":
            taking = take.params() if take else []
            cursor.execute(sql.together, [*moves, *taking, *params, *owner])
            periods, pk = cursor.fetchone()
            counted = periods.split(",") if periods else []
        else:
            for cursor_id, position in cursor_moves:
                cursor.execute(_cursor_sql(conn.vendor)[2], [position, cursor_id])
            if take is not None:
                cursor.execute(sql.take, take.params())
                counted = [row[0] for row in cursor.fetchall()]
            if take is None or len(counted) == 2:
                cursor.execute(sql.insert, params)
                row = cursor.fetchone()
                pk = row[0] if row else None
                if pk is not None:
                    cursor.execute(sql.owner, owner)
            else:
                pk = None
        if pk is None and take is not None:
            for period in counted:
                starts_on = take.day if period == LoadPeriod.DAY.value else take.week
                cursor.execute(sql.release, [take.user_id, period, _day(starts_on)])
    taken = len(counted) if take is not None else None
    if pk is None:
        return Written(taken=taken, assignment=None)
    assignment = Assignment(id=pk, **values)
    assignment._state.adding = False
    assignment._state.db = conn.alias
    return Written(taken=taken, assignment=assignment)

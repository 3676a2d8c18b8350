"""Reads of leads shared by the API, the UI and exports."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import CharField, Count, F, Func, Q, QuerySet, Value
from django.db.models.functions import Length, Replace, Right
from django.db.models.sql.compiler import SQLCompiler

from leadloop.common.errors import NotFound
from leadloop.leads.models import DuplicateDismissal, Lead, Stage


@dataclass(frozen=True)
class LeadFilters:
    """What a lead list can be narrowed by; every field is optional."""

    q: str = ""  # name, e-mail or company
    stage: Stage | None = None
    owner_id: int | None = None
    unowned: bool = False
    queue_id: int | None = None  # waiting in this team's queue (no person owns it)
    source: str = ""
    created_from: dt.datetime | None = None  # inclusive
    created_to: dt.datetime | None = None  # exclusive
    qualifies: bool | None = None  # scoring's thresholds met (LeadScore.qualifies)


def lead_list(*, filters: LeadFilters) -> QuerySet[Lead]:
    """Leads matching `filters`, newest first (ties by id, so the order is total)."""
    leads = Lead.objects.select_related("company", "owner", "queue")
    if filters.q:
        for word in filters.q.split():
            leads = leads.filter(
                Q(email__icontains=word)
                | Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(company__name__icontains=word)
                | Q(company__domain__icontains=word)
            )
    if filters.stage:
        leads = leads.filter(stage=filters.stage)
    if filters.owner_id is not None:
        leads = leads.filter(owner_id=filters.owner_id)
    if filters.unowned:
        leads = leads.filter(owner__isnull=True)
    if filters.queue_id is not None:
        leads = leads.filter(owner__isnull=True, queue_id=filters.queue_id)
    if filters.source:
        leads = leads.filter(source=filters.source)
    if filters.created_from:
        leads = leads.filter(created_at__gte=filters.created_from)
    if filters.created_to:
        leads = leads.filter(created_at__lt=filters.created_to)
    if filters.qualifies is not None:
        leads = leads.filter(score__qualifies=filters.qualifies)
    return leads.order_by("-created_at", "-id")


def lead_get(*, lead_id: int) -> Lead:
    """One lead with its company and owner; raises NotFound naming the id."""
    lead = Lead.objects.select_related("company", "owner", "queue").filter(pk=lead_id).first()
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.", loc=("lead_id",))
    return lead


def lead_sources() -> list[str]:
    """The distinct first-touch sources, for filter menus."""
    return list(
        Lead.objects.exclude(source="")
        .order_by("source")
        .values_list("source", flat=True)
        .distinct()
    )


# --- Suspected duplicates ----------------------------------------------------------------------
# Two kinds of evidence, each grouped in SQL (GROUP BY … HAVING COUNT > 1, then the groups'
# members), so the cost grows with the number of leads, not with the number of pairs: about
# 1.3 s for 200,000 leads on PostgreSQL, six queries whatever the size. Only the members of the
# groups come back to Python, where they are paired, labelled and paginated.

# Letters without a decomposition into a base letter and an accent.
_STROKED = str.maketrans("łøŁØ", "loLO")


def _plain(value: str) -> str:
    """`value` without accents, case kept: 'Zoë Łukasz' → 'Zoe Lukasz'."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_STROKED))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_fold(value: str) -> str:
    """`value` without accents, case or outer spaces, as the duplicate check compares names."""
    return _plain(value).strip().lower()


def _sqlite_name_fold(value: str | None) -> str | None:
    return None if value is None else name_fold(value)


# Accented Latin letters and their plain spelling, in both cases, for PostgreSQL's translate():
# the SQL twin of ``name_fold``.
_ACCENTED = "àáâãäåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõöøōőřśšťùúûüūůűųýÿźżž"
_ACCENTS_FROM: Final = _ACCENTED + _ACCENTED.upper()
_ACCENTS_TO: Final = _plain(_ACCENTS_FROM)

# Phone numbers shorter than this (in digits) are extensions or typos, not evidence.
MIN_PHONE_DIGITS: Final = 7
# Phones are compared by their last digits, so "+49 30 1234567" matches "030 1234567".
PHONE_MATCH_DIGITS: Final = 9
# More leads than this sharing a key is a switchboard or a placeholder, not one person.
MAX_GROUP: Final = 10


_Sql = tuple[str, tuple[str | int, ...]]


class _Folded(Func):
    """A name without accents and case: 'Zoë ÉMILE' → 'zoe emile' (the SQL twin of name_fold)."""

    output_field = CharField()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> _Sql:
        # SQLite has neither translate() nor Unicode-aware lower(), and a long replace() chain
        # overflows its parser: it calls name_fold itself, registered on the connection.
        connection.ensure_connection()
        connection.connection.create_function(
            "leadloop_name_fold", 1, _sqlite_name_fold, deterministic=True
        )
        return Func(
            self.source_expressions[0], function="leadloop_name_fold", output_field=CharField()
        ).as_sql(compiler, connection, **extra)

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> _Sql:
        # translate() over the whole accent table is slow; most names are ASCII (as many bytes
        # as characters) and skip it.
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"(CASE WHEN OCTET_LENGTH({sql}) = CHAR_LENGTH({sql}) THEN LOWER(TRIM({sql})) "
            f"ELSE LOWER(TRIM(TRANSLATE({sql}, %s, %s))) END)",
            (*params, *params, *params, *params, _ACCENTS_FROM, _ACCENTS_TO),
        )


class _Digits(Func):
    """The digits of a phone number: '+49 (30) 123-45' → '493012345'."""

    output_field = CharField()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> _Sql:
        expr: Any = self.source_expressions[0]
        for sign in " -()./+\t":
            expr = Replace(expr, Value(sign), Value(""))
        return expr.as_sql(compiler, connection, **extra)

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> _Sql:
        return Func(
            self.source_expressions[0],
            Value("[^0-9]"),
            Value(""),
            Value("g"),
            function="REGEXP_REPLACE",
            output_field=CharField(),
        ).as_sql(compiler, connection, **extra)


@dataclass(frozen=True)
class DuplicateSuspect:
    """Two leads that are likely one person, lower id first, with why they look alike."""

    low: Lead
    high: Lead
    reasons: tuple[str, ...]  # "same name and company", "same phone +49 30 1234567"


@dataclass(frozen=True)
class DuplicateSuspects:
    """One page of suspect pairs, newest pair first (by the higher lead id)."""

    items: tuple[DuplicateSuspect, ...]
    total: int
    number: int
    num_pages: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages


def _grouped(
    keys: Sequence[Any], candidates: QuerySet[Lead]
) -> list[tuple[tuple[Any, ...], int, str]]:
    """(key, lead id, phone) of every lead whose `keys` are shared by 2 to MAX_GROUP leads.

    Two queries: the shared keys (GROUP BY … HAVING), then their members, looked up by the
    first key (put an indexed column first), so the rest are computed only for leads that can
    match.
    """
    names = [f"k{i}" for i in range(len(keys))]
    keyed = candidates.annotate(**dict(zip(names, keys, strict=True)))
    shared = {
        tuple(row)
        for row in keyed.values(*names)
        .annotate(n=Count("id"))
        .filter(n__gt=1, n__lte=MAX_GROUP)
        .order_by()
        .values_list(*names)
    }
    if not shared:
        return []
    members = keyed.filter(**{"k0__in": {key[0] for key in shared}}).order_by()
    return [
        (tuple(row[:-2]), row[-2], row[-1])
        for row in members.values_list(*names, "id", "phone")
        if tuple(row[:-2]) in shared
    ]


def _pairs(rows: list[tuple[tuple[Any, ...], int, str]]) -> dict[tuple[int, int], str]:
    """Every pair of ids sharing a key, with the phone of the lower id."""
    groups: dict[tuple[Any, ...], list[tuple[int, str]]] = {}
    for key, lead_id, phone in rows:
        groups.setdefault(key, []).append((lead_id, phone))
    pairs: dict[tuple[int, int], str] = {}
    for members in groups.values():
        members.sort()
        for i, (low, phone) in enumerate(members):
            for high, _phone in members[i + 1 :]:
                pairs[(low, high)] = phone
    return pairs


def duplicate_suspect_pairs() -> dict[tuple[int, int], tuple[str, ...]]:
    """Every suspect pair (lower id first) with its reasons; dismissed pairs left out.

    A merged lead no longer exists, so its pairs are gone with it. A constant number of
    queries, whatever the number of leads.
    """
    named = Lead.objects.filter(company__isnull=False).exclude(first_name="").exclude(last_name="")
    by_name = _pairs(
        _grouped([F("company_id"), _Folded("first_name"), _Folded("last_name")], named)
    )
    digits = _Digits("phone")
    phoned = Lead.objects.exclude(phone="").alias(n_digits=Length(digits))
    by_phone = _pairs(
        _grouped([Right(digits, PHONE_MATCH_DIGITS)], phoned.filter(n_digits__gte=MIN_PHONE_DIGITS))
    )
    reasons: dict[tuple[int, int], tuple[str, ...]] = {}
    for pair in by_name:
        reasons[pair] = ("same name and company",)
    for pair, phone in by_phone.items():
        reasons[pair] = (*reasons.get(pair, ()), f"same phone {phone.strip()}")
    if reasons:
        low_ids = {low for low, _high in reasons}
        for pair in DuplicateDismissal.objects.filter(lead_low_id__in=low_ids).values_list(
            "lead_low_id", "lead_high_id"
        ):
            reasons.pop(pair, None)
    return reasons


def duplicate_suspects(*, page: int = 1, per_page: int = 50) -> DuplicateSuspects:
    """One page of suspected duplicate pairs with their reasons (see duplicate_suspect_pairs).

    Same first and last name (accents and case aside) at the same company, or the same phone
    number (its last digits; short numbers ignored). A page past the end shows the last page.
    """
    reasons = duplicate_suspect_pairs()
    ordered = sorted(reasons, key=lambda p: (p[1], p[0]), reverse=True)
    num_pages = max(1, -(-len(ordered) // per_page))
    number = min(max(1, page), num_pages)
    shown = ordered[(number - 1) * per_page : number * per_page]
    ids = {lead_id for pair in shown for lead_id in pair}
    leads = Lead.objects.select_related("company", "owner", "queue").in_bulk(ids)
    items = tuple(
        DuplicateSuspect(low=leads[low], high=leads[high], reasons=reasons[(low, high)])
        for low, high in shown
        if low in leads and high in leads
    )
    return DuplicateSuspects(items=items, total=len(ordered), number=number, num_pages=num_pages)


def phone_digits(value: str) -> str:
    """The digits of a phone number, as the duplicate check compares them."""
    return "".join(c for c in value if c.isdigit())


def duplicate_reasons(a: Lead, b: Lead) -> tuple[str, ...]:
    """Why two leads look like one person, by the rules of duplicate_suspects (in Python)."""
    reasons: list[str] = []
    if (
        a.company_id is not None
        and a.company_id == b.company_id
        and name_fold(a.first_name)
        and name_fold(a.last_name)
        and (name_fold(a.first_name), name_fold(a.last_name))
        == (name_fold(b.first_name), name_fold(b.last_name))
    ):
        reasons.append("same name and company")
    da, db = phone_digits(a.phone), phone_digits(b.phone)
    if len(da) >= MIN_PHONE_DIGITS and da[-PHONE_MATCH_DIGITS:] == db[-PHONE_MATCH_DIGITS:]:
        low = a if a.pk < b.pk else b
        reasons.append(f"same phone {low.phone.strip()}")
    return tuple(reasons)

"""Turn one CSV row into a checked ``ImportRow``, or the list of what is wrong with its cells.

Pure Python, no database: the runner resolves identities, companies and owners per batch.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Final

from django.utils import timezone

from leadloop.capture.imports.errors import ImportFileInvalid, ImportRowInvalid
from leadloop.capture.imports.mapping import DATE_FIELDS, FIELDS, Mapping
from leadloop.leads.models import AttributeType, Stage
from leadloop.leads.services import EmailInvalid, email_normalize

# Tried in order when the mapping names no date_format (after ISO 8601).
DATE_FORMATS: Final = (
    "%d %b, %Y %H:%M:%S",  # Zoho: 23 May, 2012 00:00:00
    "%d %b %Y",
    "%b %d, %Y",
    "%m/%d/%Y %I:%M %p",  # slashes: month first, as US CRM exports write them; a day-first
    "%m/%d/%Y %H:%M",  # file needs [source].date_format = "%d/%m/%Y"
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d",
)
# Formats ``datetime.fromisoformat`` reads as well, many times faster than strptime.
_ISO_FORMATS: Final = frozenset({"%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"})
_BOOLEANS: Final = {
    **dict.fromkeys(("yes", "y", "true", "t", "1", "ja", "oui", "si", "sí"), True),
    **dict.fromkeys(("no", "n", "false", "f", "0", "nein", "non"), False),
}
_NUMBER: Final = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
# Spellings pycountry does not know.
_COUNTRY_ALIASES: Final = {
    "uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "great britain": "GB",
    "russia": "RU", "south korea": "KR", "korea": "KR", "north korea": "KP", "turkey": "TR",
    "iran": "IR", "syria": "SY", "laos": "LA", "vietnam": "VN", "taiwan": "TW",
    "bolivia": "BO", "venezuela": "VE", "moldova": "MD", "macedonia": "MK",
    "czech republic": "CZ", "ivory coast": "CI", "usa": "US", "u.s.": "US", "u.s.a.": "US",
    "united states of america": "US", "uae": "AE", "holland": "NL", "tanzania": "TZ",
    "palestine": "PS", "brunei": "BN", "cape verde": "CV", "swaziland": "SZ",
}  # fmt: skip


@cache
def _countries() -> dict[str, str]:
    import pycountry

    index: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
            value = getattr(c, attr, None)
            if value:
                index[value.lower()] = c.alpha_2
    index.update(_COUNTRY_ALIASES)
    return index


@cache
def country_code(value: str) -> tuple[str, str]:
    """(ISO alpha-2 code, "") for a code or name; ("", suggestion) when unknown."""
    index = _countries()
    key = value.strip().lower()
    if key in index:
        return index[key], ""
    names = [n for n in index if len(n) > 3]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.7)
    return "", index[close[0]] if close else ""


@dataclass(slots=True)
class ImportRow:
    """A checked row: what the runner needs to upsert the lead and load its history."""

    number: int
    email: str = ""
    external_id: str = ""
    values: dict[str, str] = field(default_factory=dict)  # plain lead fields: first_name, …
    company: str = ""
    domain: str = ""
    source: str = ""
    source_detail: str = ""
    owner: str = ""
    created_at: datetime | None = None
    stage: Stage | None = None
    dates: dict[str, datetime] = field(default_factory=dict)  # mql_at, … → when
    lost_reason: str = ""
    reject_reason: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    outcome: str = ""  # "won", "lost" or ""
    outcome_at: datetime | None = None


@dataclass(frozen=True)
class CellError:
    column: str
    value: str
    reason: str


# A field as the mapping reads it: (field, cell index or -1, its [values] table or None,
# its [constants] value or None).
_Read = tuple[str, int, dict[str, str] | None, str | None]
# An attribute: (key, column, cell index, [values] table or None, type, converter).
_AttributeRead = tuple[str, str, int, dict[str, str] | None, AttributeType, Callable[[str], Any]]
_DATE_CACHE_MAX: Final = 10_000
_PLAIN_VALUES: Final = ("first_name", "last_name", "title", "phone")


class RowValidator:
    """Checks the rows of one file against one mapping; built once from the header.

    What the mapping asks of a row (which cell feeds which field, through which [values]
    table, how each attribute is typed) is worked out here once, so that ``check`` does only
    the row's own work.
    """

    def __init__(self, mapping: Mapping, header: list[str], *, now: datetime | None = None):
        self.mapping = mapping
        self.header = header
        self.now = now or timezone.now()
        self._index = {name: i for i, name in reversed(list(enumerate(header)))}
        self._check_header()
        self._date_formats = [mapping.date_format] if mapping.date_format else list(DATE_FORMATS)
        self._iso_first = not mapping.date_format or mapping.date_format in _ISO_FORMATS
        self._global = mapping.values.get("*", {})
        mapped = set(mapping.fields) | set(mapping.constants)
        self._dates = [name for name in DATE_FIELDS if name in mapped]
        # Only what the mapping reads: a field it neither maps nor sets is "" in every row.
        self._reads: list[_Read] = []
        for name in FIELDS:
            if name not in mapped:
                continue
            column = mapping.fields.get(name)
            i = self._index[column] if column is not None else -1
            table = mapping.values.get(name) or None
            self._reads.append((name, i, table, mapping.constants.get(name)))
        self._columns = {name: mapping.fields.get(name, "") for name in FIELDS}
        self._attribute_reads: list[_AttributeRead] = [
            (
                spec.key,
                spec.column,
                self._index[spec.column],
                mapping.values.get(spec.key) or None,
                spec.type,
                self._converter(spec.type),
            )
            for spec in mapping.attributes
        ]
        outcome = mapping.outcome
        self._won = frozenset(v.lower() for v in outcome.won) if outcome else frozenset()
        self._lost = frozenset(v.lower() for v in outcome.lost) if outcome else frozenset()
        self._dates_parsed: dict[str, datetime | None] = {}

    def _check_header(self) -> None:
        needed = sorted(self.mapping.columns)
        if len(self.header) == 1 and len(needed) > 1:
            raise ImportFileInvalid(
                f"The file has one column only ({self.header[0][:80]!r}) while the mapping "
                f"reads {len(needed)}: is the delimiter wrong? Set [source].delimiter "
                '(",", ";" or "\\t") in the mapping.',
                loc=("file", "delimiter"),
            )
        missing = [c for c in needed if c not in self._index]
        if missing:
            where = _where(self.mapping, missing[0])
            raise ImportFileInvalid(
                f"Column {missing[0]!r} ({where}) is not in the file's header; the file has "
                f"{', '.join(repr(h) for h in self.header[:30])}"
                f"{' …' if len(self.header) > 30 else ''}.",
                loc=("file", "header"),
            )

    def _read(self, number: int, cells: list[str]) -> dict[str, str]:
        """The value of each field the mapping reads, after [values] and [constants]."""
        width = len(cells)
        glob = self._global
        got: dict[str, str] = {}
        for name, i, table, constant in self._reads:
            value = cells[i].strip() if 0 <= i < width else ""
            if i >= 0:
                if glob and value in glob:
                    value = glob[value]
                if table:
                    if value in table:
                        value = table[value]
                    elif value and "*" in table:
                        value = table["*"]
            if not value and constant is not None:
                value = constant.replace("{row}", str(number))
            got[name] = value
        return got

    def check(self, number: int, cells: list[str]) -> ImportRow | list[CellError]:
        """The checked row, or every error its cells have."""
        if len(cells) > len(self.header) and any(c.strip() for c in cells[len(self.header) :]):
            return [
                CellError(
                    "",
                    "",
                    f"the row has {len(cells)} cells but the header has {len(self.header)}",
                )
            ]
        errors: list[CellError] = []
        got = self._read(number, cells)
        get = got.get
        columns = self._columns
        row = ImportRow(number)
        # Identity.
        email = get("email", "")
        if email:
            try:
                row.email = email_normalize(email)
            except EmailInvalid:
                errors.append(
                    CellError(columns["email"] or "email", email, "not an e-mail address")
                )
        row.external_id = external_id = get("external_id", "")
        if not email and not external_id:
            errors.append(
                CellError(
                    columns["email"] or columns["external_id"] or "email",
                    "",
                    "no e-mail and no external id: a lead needs one of them",
                )
            )
        values = row.values
        for name in _PLAIN_VALUES:
            value = get(name)
            if value:
                values[name] = value
        full = get("full_name")
        if full and "first_name" not in values and "last_name" not in values:
            first, _, last = full.partition(" ")
            values["first_name"], values["last_name"] = first, last.strip()
        country = get("country")
        if country:
            code, suggestion = country_code(country)
            if code:
                values["country"] = code
            else:
                hint = f" (did you mean {suggestion}?)" if suggestion else ""
                errors.append(
                    CellError(
                        columns["country"] or "country",
                        country,
                        f"not an ISO country code or name{hint}",
                    )
                )
        row.company, row.domain = get("company", ""), get("domain", "")
        row.source, row.source_detail = get("source", ""), get("source_detail", "")
        row.owner = get("owner_email", "")
        row.lost_reason, row.reject_reason = get("lost_reason", ""), get("reject_reason", "")
        stage = get("stage")
        if stage:
            self._stage(row, columns["stage"], stage, errors)
        for name in self._dates:
            value = got[name]
            if value:
                when = self._date(columns[name], value, errors, future_ok=False)
                if when and name == "created_at":
                    row.created_at = when
                elif when:
                    row.dates[name] = when
        if self._attribute_reads:
            self._attributes(row, cells, errors)
        if self.mapping.outcome is not None:
            self._outcome(row, cells, errors)
        return errors or row

    def _stage(self, row: ImportRow, column: str, value: str, errors: list[CellError]) -> None:
        if value.lower() in Stage.values:
            row.stage = Stage(value.lower())
            return
        errors.append(
            CellError(
                column or "stage",
                value,
                f"not a stage ({', '.join(Stage.values)}); translate it with [values.stage]",
            )
        )

    def _date(
        self, column: str, value: str, errors: list[CellError], *, future_ok: bool
    ) -> datetime | None:
        when = self.parse_date(value)
        if when is None:
            fmt = self.mapping.date_format or "ISO 8601 or a common format"
            errors.append(CellError(column, value, f"not a date ({fmt})"))
            return None
        if not future_ok and when > self.now:
            errors.append(CellError(column, value, "the date is in the future"))
            return None
        return when

    def parse_date(self, value: str) -> datetime | None:
        """An aware datetime (naive values are in the mapping's time zone), or None."""
        cache = self._dates_parsed
        if value in cache:
            return cache[value]
        parsed: datetime | None = None
        if self._iso_first:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                parsed = None
        # Remembered only when the answer does not depend on which formats were tried first.
        deterministic = parsed is not None or len(self._date_formats) == 1
        if parsed is None:
            for i, fmt in enumerate(self._date_formats):
                try:
                    parsed = datetime.strptime(value, fmt)  # noqa: DTZ007 - zone set below
                except ValueError:
                    continue
                if i:  # the format that worked is tried first next time
                    self._date_formats.insert(0, self._date_formats.pop(i))
                break
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=self.mapping.timezone)
            parsed = parsed.astimezone(UTC)
        if deterministic:
            if len(cache) >= _DATE_CACHE_MAX:
                cache.clear()
            cache[value] = parsed
        return parsed

    def _attributes(self, row: ImportRow, cells: list[str], errors: list[CellError]) -> None:
        width = len(cells)
        glob = self._global
        attributes = row.attributes
        for key, column, i, table, kind, convert in self._attribute_reads:
            value = cells[i].strip() if i < width else ""
            if glob and value in glob:
                value = glob[value]
            if table:
                if value in table:
                    value = table[value]
                elif value and "*" in table:
                    value = table["*"]
            if not value:
                continue
            typed = convert(value)
            if typed is None:
                errors.append(CellError(column, value, f"not a {kind.label.lower()}"))
            else:
                attributes[key] = typed

    def _converter(self, kind: str) -> Callable[[str], Any]:
        """The function that types an attribute's value (None: not of that type)."""
        if kind == AttributeType.NUMBER:
            return _number
        if kind == AttributeType.BOOLEAN:
            return _boolean
        if kind == AttributeType.DATE:
            return self._date_attribute
        return _text

    def _date_attribute(self, value: str) -> str | None:
        when = self.parse_date(value)
        if when is None:
            return None
        local = when.astimezone(self.mapping.timezone)
        is_day = (local.hour, local.minute, local.second) == (0, 0, 0)
        return local.date().isoformat() if is_day else when.isoformat()

    def _outcome(self, row: ImportRow, cells: list[str], errors: list[CellError]) -> None:
        outcome = self.mapping.outcome
        if outcome is None:
            return
        if outcome.column:
            i = self._index[outcome.column]
            value = (cells[i].strip() if i < len(cells) else "").lower()
            row.outcome = "won" if value in self._won else "lost" if value in self._lost else ""
        else:
            row.outcome = outcome.always
        if row.outcome and outcome.date_column:
            i = self._index[outcome.date_column]
            value = cells[i].strip() if i < len(cells) else ""
            if value:
                row.outcome_at = self._date(outcome.date_column, value, errors, future_ok=False)


def _number(value: str) -> int | float | None:
    if not _NUMBER.match(value):
        return None
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _boolean(value: str) -> bool | None:
    return _BOOLEANS.get(value.lower())


def _text(value: str) -> str:
    return value


def _where(mapping: Mapping, column: str) -> str:
    for name, col in mapping.fields.items():
        if col == column:
            return f"[fields].{name}"
    for spec in mapping.attributes:
        if spec.column == column:
            return f"[attributes].{spec.key}"
    return "[outcome]"


def row_error(number: int, error: CellError) -> ImportRowInvalid:
    """The error of one cell as the exception the rest of Leadloop shows."""
    where = f", column {error.column!r}" if error.column else ""
    value = f": {error.value!r}" if error.value else ""
    return ImportRowInvalid(
        f"Row {number}{where}{value}: {error.reason}.",
        row=number,
        column=error.column,
        value=error.value,
    )


__all__ = ["FIELDS", "CellError", "ImportRow", "RowValidator", "country_code", "row_error"]

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


@dataclass
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


class RowValidator:
    """Checks the rows of one file against one mapping; built once from the header."""

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
        row = ImportRow(number=number)
        get = self._getter(number, cells)
        self._identity(row, get, errors)
        for name in ("first_name", "last_name", "title", "phone"):
            value = get(name)[1]
            if value:
                row.values[name] = value
        full = get("full_name")[1]
        if full and "first_name" not in row.values and "last_name" not in row.values:
            first, _, last = full.partition(" ")
            row.values["first_name"], row.values["last_name"] = first, last.strip()
        self._country(row, get, errors)
        row.company, row.domain = get("company")[1], get("domain")[1]
        row.source, row.source_detail = get("source")[1], get("source_detail")[1]
        row.owner = get("owner_email")[1]
        row.lost_reason, row.reject_reason = get("lost_reason")[1], get("reject_reason")[1]
        self._stage(row, get, errors)
        for name in self._dates:
            column, value = get(name)
            if value:
                when = self._date(column, value, errors, future_ok=False)
                if when and name == "created_at":
                    row.created_at = when
                elif when:
                    row.dates[name] = when
        self._attributes(row, cells, errors)
        self._outcome(row, cells, errors)
        return errors or row

    def _getter(self, number: int, cells: list[str]) -> Callable[[str], tuple[str, str]]:
        """`get(field)` → (source column, value after [values] and [constants])."""
        fields, constants, values = self.mapping.fields, self.mapping.constants, self.mapping.values

        def get(name: str) -> tuple[str, str]:
            column = fields.get(name)
            if column is None:
                if name in constants:
                    return "", constants[name].replace("{row}", str(number))
                return "", ""
            i = self._index[column]
            value = self._translate(name, cells[i].strip() if i < len(cells) else "", values)
            if not value and name in constants:
                value = constants[name].replace("{row}", str(number))
            return column, value

        return get

    def _translate(self, name: str, value: str, values: dict[str, dict[str, str]]) -> str:
        if value in self._global:
            value = self._global[value]
        table = values.get(name)
        if table:
            if value in table:
                return table[value]
            if value and "*" in table:
                return table["*"]
        return value

    def _identity(
        self, row: ImportRow, get: Callable[[str], tuple[str, str]], errors: list[CellError]
    ) -> None:
        column, email = get("email")
        if email:
            try:
                row.email = email_normalize(email)
            except EmailInvalid:
                errors.append(CellError(column or "email", email, "not an e-mail address"))
        id_column, row.external_id = get("external_id")
        if not email and not row.external_id:
            errors.append(
                CellError(
                    column or id_column or "email",
                    "",
                    "no e-mail and no external id: a lead needs one of them",
                )
            )

    def _country(
        self, row: ImportRow, get: Callable[[str], tuple[str, str]], errors: list[CellError]
    ) -> None:
        column, value = get("country")
        if not value:
            return
        code, suggestion = country_code(value)
        if code:
            row.values["country"] = code
            return
        hint = f" (did you mean {suggestion}?)" if suggestion else ""
        errors.append(
            CellError(column or "country", value, f"not an ISO country code or name{hint}")
        )

    def _stage(
        self, row: ImportRow, get: Callable[[str], tuple[str, str]], errors: list[CellError]
    ) -> None:
        column, value = get("stage")
        if not value:
            return
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
        parsed: datetime | None = None
        if self._iso_first:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                parsed = None
        if parsed is None:
            for i, fmt in enumerate(self._date_formats):
                try:
                    parsed = datetime.strptime(value, fmt)  # noqa: DTZ007 - zone set below
                except ValueError:
                    continue
                if i:  # the format that worked is tried first next time
                    self._date_formats.insert(0, self._date_formats.pop(i))
                break
        if parsed is None:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.mapping.timezone)
        return parsed.astimezone(UTC)

    def _attributes(self, row: ImportRow, cells: list[str], errors: list[CellError]) -> None:
        for spec in self.mapping.attributes:
            i = self._index[spec.column]
            raw = cells[i].strip() if i < len(cells) else ""
            value = self._translate(spec.key, raw, self.mapping.values)
            if not value:
                continue
            typed = self._typed(spec.type, value)
            if typed is None:
                errors.append(
                    CellError(spec.column, value, f"not a {AttributeType(spec.type).label.lower()}")
                )
            else:
                row.attributes[spec.key] = typed

    def _typed(self, kind: str, value: str) -> Any:
        if kind == AttributeType.NUMBER:
            if not _NUMBER.match(value):
                return None
            number = float(value)
            return int(number) if number.is_integer() and abs(number) < 2**53 else number
        if kind == AttributeType.BOOLEAN:
            return _BOOLEANS.get(value.lower())
        if kind == AttributeType.DATE:
            when = self.parse_date(value)
            if when is None:
                return None
            local = when.astimezone(self.mapping.timezone)
            is_day = (local.hour, local.minute, local.second) == (0, 0, 0)
            return local.date().isoformat() if is_day else when.isoformat()
        return value

    def _outcome(self, row: ImportRow, cells: list[str], errors: list[CellError]) -> None:
        outcome = self.mapping.outcome
        if outcome is None:
            return
        if outcome.column:
            i = self._index[outcome.column]
            value = (cells[i].strip() if i < len(cells) else "").lower()
            won = {v.lower() for v in outcome.won}
            lost = {v.lower() for v in outcome.lost}
            row.outcome = "won" if value in won else "lost" if value in lost else ""
        else:
            row.outcome = outcome.always
        if row.outcome and outcome.date_column:
            i = self._index[outcome.date_column]
            value = cells[i].strip() if i < len(cells) else ""
            if value:
                row.outcome_at = self._date(outcome.date_column, value, errors, future_ok=False)


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

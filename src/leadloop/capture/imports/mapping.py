"""The mapping of an import: which CSV column feeds which Leadloop field, read from TOML.

    [source]      delimiter, encoding, date_format, timezone (each detected when absent)
    [fields]      Leadloop field = "source column"
    [attributes]  key = {column = "...", type = "text|number|boolean|date|category"}
    [values.F]    "their value" = "our value" for field or attribute F ("*" = any other
                  value); [values."*"] applies to every column (e.g. "Select" = "")
    [constants]   field = "value for every row" ("{row}" becomes the data row number)
    [outcome]     column, won = [...], lost = [...], date, lost_stage, lost_reason, always

``mapping_load`` checks everything a mapping can get wrong before a row is read, and its
``MappingInvalid`` names the TOML key (or line) at fault.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leadloop.capture.imports.errors import MappingInvalid
from leadloop.leads.models import AttributeType, Stage

# Leadloop fields a [fields] entry may name, with what each means.
FIELDS: Final[dict[str, str]] = {
    "email": "E-mail address (identity)",
    "external_id": "The other system's id (identity when there is no e-mail)",
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Full name, split into first and last name",
    "company": "Company name",
    "domain": "Company web domain or URL",
    "title": "Job title",
    "country": "Country: ISO code or name",
    "phone": "Phone",
    "source": "First-touch source",
    "source_detail": "First-touch campaign or referrer",
    "owner_email": "Owner: a user's e-mail, name or username",
    "created_at": "When the lead was created",
    "stage": "Current lifecycle stage",
    "subscriber_at": "Became a subscriber",
    "lead_at": "Became a lead",
    "mql_at": "Became an MQL",
    "sql_at": "Became an SQL",
    "opportunity_at": "Became an opportunity",
    "customer_at": "Became a customer",
    "lost_at": "Was lost",
    "lost_reason": "Why it was lost",
    "reject_reason": "Why sales rejected or disqualified it",
}
DATE_FIELDS: Final = frozenset(
    {"created_at", "subscriber_at", "lead_at", "mql_at", "sql_at", "opportunity_at"}
    | {"customer_at", "lost_at"}
)
# The dated fields that are a move into a stage ("lost" is the mapping's lost stage).
STAGE_DATES: Final[dict[str, Stage | None]] = {
    "subscriber_at": Stage.SUBSCRIBER,
    "lead_at": Stage.LEAD,
    "mql_at": Stage.MQL,
    "sql_at": Stage.SQL,
    "opportunity_at": Stage.OPPORTUNITY,
    "customer_at": Stage.CUSTOMER,
    "lost_at": None,
}
DELIMITERS: Final = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|"}
ENCODINGS: Final = ("utf-8", "utf-8-sig", "cp1252", "windows-1252", "latin-1", "iso-8859-1")
_KEY: Final = re.compile(r"^[a-z][a-z0-9_-]{0,99}$")
_SECTIONS: Final = ("source", "fields", "attributes", "values", "constants", "outcome")
PRESETS: Final = ("hubspot", "salesforce")


@dataclass(frozen=True)
class AttributeSpec:
    key: str
    column: str
    type: AttributeType


@dataclass(frozen=True)
class Outcome:
    column: str = ""
    won: frozenset[str] = frozenset()
    lost: frozenset[str] = frozenset()
    date_column: str = ""
    lost_stage: Stage = Stage.NURTURE
    lost_reason: str = ""
    always: str = ""  # "won" or "lost": every row is that outcome (a closed-deals file)


@dataclass(frozen=True)
class Mapping:
    name: str
    toml: str
    delimiter: str | None = None
    encoding: str | None = None
    date_format: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    fields: dict[str, str] = field(default_factory=dict)
    attributes: tuple[AttributeSpec, ...] = ()
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    outcome: Outcome | None = None

    @property
    def columns(self) -> frozenset[str]:
        """Every source column the mapping reads."""
        cols = set(self.fields.values()) | {a.column for a in self.attributes}
        if self.outcome:
            cols |= {c for c in (self.outcome.column, self.outcome.date_column) if c}
        return frozenset(cols)


def mapping_load(name_or_path: str) -> Mapping:
    """A preset by name (``hubspot``, ``salesforce``) or a TOML file by path, checked."""
    if name_or_path in PRESETS:
        text = resources.files("leadloop.capture.imports.presets").joinpath(f"{name_or_path}.toml")
        return mapping_parse(text.read_text(encoding="utf-8"), name=name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        raise MappingInvalid(
            f"Mapping {name_or_path!r} is neither a preset ({', '.join(PRESETS)}) nor a file.",
            loc=("mapping",),
        )
    try:
        text_ = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise MappingInvalid(f"Mapping {path.name}: cannot be read ({e}).") from e
    return mapping_parse(text_, name=path.name)


def mapping_parse(text: str, *, name: str = "mapping") -> Mapping:
    """Parse and check a mapping's TOML; raises MappingInvalid naming the key or line."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise MappingInvalid(f"Mapping {name}: not valid TOML: {e}.", loc=("mapping",)) from e
    for section in doc:
        if section not in _SECTIONS:
            raise MappingInvalid(
                f"Mapping {name}: unknown section [{section}]; expected one of "
                f"{', '.join(f'[{s}]' for s in _SECTIONS)}.",
                loc=(section,),
            )
    source = _table(doc, "source", name)
    fields = _fields(_table(doc, "fields", name), name)
    constants = _constants(_table(doc, "constants", name), name)
    values = _values(_table(doc, "values", name), name)
    mapping = Mapping(
        name=name,
        toml=text,
        delimiter=_delimiter(source, name),
        encoding=_encoding(source, name),
        date_format=_str_opt(source, "date_format", f"{name}: [source]"),
        timezone=_timezone(source, name),
        fields=fields,
        attributes=_attributes(_table(doc, "attributes", name), name),
        values=values,
        constants=constants,
        outcome=_outcome(_table(doc, "outcome", name), name),
    )
    identity = {"email", "external_id"} & (set(fields) | set(constants))
    if not identity:
        raise MappingInvalid(
            f"Mapping {name}: [fields] needs `email` or `external_id` (or a [constants] "
            'external_id such as "crm-{row}"): a lead is found by one of them.',
            loc=("fields",),
        )
    return mapping


def _table(doc: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise MappingInvalid(f"Mapping {name}: `{key}` must be a table ([{key}]).", loc=(key,))
    return value


def _str_opt(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MappingInvalid(f"Mapping {where}.{key} must be a non-empty string.", loc=(key,))
    return value


def _delimiter(source: dict[str, Any], name: str) -> str | None:
    for key in source:
        if key not in ("delimiter", "encoding", "date_format", "timezone"):
            raise MappingInvalid(
                f"Mapping {name}: unknown key [source].{key}; expected delimiter, encoding, "
                "date_format or timezone.",
                loc=("source", key),
            )
    value = _str_opt(source, "delimiter", f"{name}: [source]")
    if value is None:
        return None
    if value not in DELIMITERS:
        raise MappingInvalid(
            f'Mapping {name}: [source].delimiter {value!r} is not one of ",", ";", '
            '"\\t" (or "tab"), "|".',
            loc=("source", "delimiter"),
        )
    return DELIMITERS[value]


def _encoding(source: dict[str, Any], name: str) -> str | None:
    value = _str_opt(source, "encoding", f"{name}: [source]")
    if value is not None and value.lower() not in ENCODINGS:
        raise MappingInvalid(
            f"Mapping {name}: [source].encoding {value!r} is not one of {', '.join(ENCODINGS)}.",
            loc=("source", "encoding"),
        )
    return value.lower() if value else None


def _timezone(source: dict[str, Any], name: str) -> ZoneInfo:
    value = _str_opt(source, "timezone", f"{name}: [source]") or "UTC"
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise MappingInvalid(
            f"Mapping {name}: [source].timezone {value!r} is not a time zone such as "
            '"Europe/Berlin".',
            loc=("source", "timezone"),
        ) from None


def _fields(table: dict[str, Any], name: str) -> dict[str, str]:
    for key, column in table.items():
        if key not in FIELDS:
            raise MappingInvalid(
                f"Mapping {name}: [fields].{key} is not a Leadloop field; known fields: "
                f"{', '.join(FIELDS)}. Keep other columns with [attributes].",
                loc=("fields", key),
            )
        if not isinstance(column, str) or not column:
            raise MappingInvalid(
                f"Mapping {name}: [fields].{key} must be the name of a column (a string).",
                loc=("fields", key),
            )
    return dict(table)


def _constants(table: dict[str, Any], name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        if key not in FIELDS:
            raise MappingInvalid(
                f"Mapping {name}: [constants].{key} is not a Leadloop field.",
                loc=("constants", key),
            )
        if not isinstance(value, str | int | float | bool):
            raise MappingInvalid(
                f"Mapping {name}: [constants].{key} must be a single value.",
                loc=("constants", key),
            )
        out[key] = str(value)
    return out


def _values(table: dict[str, Any], name: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, translation in table.items():
        if key != "*" and key not in FIELDS and not _KEY.match(key):
            raise MappingInvalid(
                f"Mapping {name}: [values.{key}] names no Leadloop field or attribute.",
                loc=("values", key),
            )
        if not isinstance(translation, dict) or not all(
            isinstance(v, str) for v in translation.values()
        ):
            raise MappingInvalid(
                f'Mapping {name}: [values.{key}] must be a table of "their value" = '
                '"our value" strings.',
                loc=("values", key),
            )
        if key == "stage":
            for theirs, ours in translation.items():
                if ours and ours not in Stage.values:
                    raise MappingInvalid(
                        f"Mapping {name}: [values.stage] {theirs!r} = {ours!r}: not a stage; "
                        f"stages are {', '.join(Stage.values)}.",
                        loc=("values", "stage", theirs),
                    )
        out[key] = dict(translation)
    return out


def _attributes(table: dict[str, Any], name: str) -> tuple[AttributeSpec, ...]:
    specs: list[AttributeSpec] = []
    for key, spec in table.items():
        where = f"Mapping {name}: [attributes].{key}"
        if not _KEY.match(key):
            raise MappingInvalid(
                f"{where}: a key is lower-case letters, digits, _ and -, starting with a letter.",
                loc=("attributes", key),
            )
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("column"), str):
            raise MappingInvalid(
                f'{where} must be {{column = "...", type = "text"}}.', loc=("attributes", key)
            )
        unknown = set(spec) - {"column", "type"}
        if unknown:
            raise MappingInvalid(
                f"{where}: unknown key {sorted(unknown)[0]!r}; use column and type.",
                loc=("attributes", key),
            )
        kind = spec.get("type", "text")
        if kind not in AttributeType.values:
            raise MappingInvalid(
                f"{where}.type {kind!r} is not one of {', '.join(AttributeType.values)}.",
                loc=("attributes", key, "type"),
            )
        specs.append(AttributeSpec(key=key, column=spec["column"], type=AttributeType(kind)))
    return tuple(specs)


def _outcome(table: dict[str, Any], name: str) -> Outcome | None:
    if not table:
        return None
    where = f"Mapping {name}: [outcome]"
    known = {"column", "won", "lost", "date", "lost_stage", "lost_reason", "always"}
    for key in table:
        if key not in known:
            raise MappingInvalid(
                f"{where}.{key} is unknown; use {', '.join(sorted(known))}.",
                loc=("outcome", key),
            )

    def values(key: str) -> frozenset[str]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise MappingInvalid(f"{where}.{key} must be a list of values.", loc=("outcome", key))
        return frozenset(str(v) for v in value)

    column = str(table.get("column", ""))
    always = str(table.get("always", ""))
    if always not in ("", "won", "lost"):
        raise MappingInvalid(f'{where}.always must be "won" or "lost".', loc=("outcome", "always"))
    if not column and not always:
        raise MappingInvalid(
            f'{where} needs `column` (with won/lost values) or `always = "won"`.',
            loc=("outcome", "column"),
        )
    lost_stage = str(table.get("lost_stage", Stage.NURTURE))
    if lost_stage not in (Stage.NURTURE, Stage.DISQUALIFIED):
        raise MappingInvalid(
            f'{where}.lost_stage must be "nurture" or "disqualified".',
            loc=("outcome", "lost_stage"),
        )
    return Outcome(
        column=column,
        won=values("won"),
        lost=values("lost"),
        date_column=str(table.get("date", "")),
        lost_stage=Stage(lost_stage),
        lost_reason=str(table.get("lost_reason", "")),
        always=always,
    )

"""The first rows of a file as a mapping reads them, with each cell's error: the UI's preview."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from leadloop.capture.imports.mapping import Mapping
from leadloop.capture.imports.reader import CsvReader
from leadloop.capture.imports.validate import ImportRow, RowValidator


@dataclass(frozen=True)
class PreviewCell:
    value: str
    error: str = ""


@dataclass(frozen=True)
class PreviewRow:
    number: int
    cells: list[PreviewCell]
    problem: str = ""  # an error of the whole row


@dataclass(frozen=True)
class Preview:
    columns: list[tuple[str, str]]  # (Leadloop field or attribute, source column)
    rows: list[PreviewRow]
    encoding: str
    delimiter: str


def import_preview(*, path: Path, mapping: Mapping, limit: int = 10) -> Preview:
    """The first `limit` rows of `path` through `mapping`. Raises ImportFileInvalid."""
    reader = CsvReader(path, encoding=mapping.encoding, delimiter=mapping.delimiter)
    validator = RowValidator(mapping, reader.header)
    columns = [(name, column) for name, column in mapping.fields.items()]
    columns += [(f"attributes.{a.key}", a.column) for a in mapping.attributes]
    if mapping.outcome and mapping.outcome.column:
        columns.append(("outcome", mapping.outcome.column))
    index = {name: i for i, name in reversed(list(enumerate(reader.header)))}
    rows: list[PreviewRow] = []
    for row in islice(reader.rows(), limit):
        values = [row.cells[index[c]] if index[c] < len(row.cells) else "" for _, c in columns]
        if row.problem:
            rows.append(PreviewRow(row.number, [PreviewCell(v) for v in values], row.problem))
            continue
        checked = validator.check(row.number, row.cells)
        errors = {} if isinstance(checked, ImportRow) else {e.column: e.reason for e in checked}
        cells = [
            PreviewCell(v, errors.get(c, "")) for v, (_, c) in zip(values, columns, strict=True)
        ]
        problem = errors.get("", "")
        rows.append(PreviewRow(row.number, cells, problem))
    return Preview(columns, rows, reader.dialect.encoding, reader.dialect.delimiter)

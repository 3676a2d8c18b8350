"""Stream a CSV file row by row, with the byte offset after each row (for resuming).

The file is read in binary, line by line, and each line decoded on its own, so the offset
after every row is exact and memory holds one row at a time, whatever the file's size. Lines
end in ``\\n`` in every supported encoding (UTF-8, cp1252, Latin-1), so a line never splits
a character. The encoding and delimiter are detected from a sample when the mapping does not
name them.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from leadloop.capture.imports.errors import ImportFileInvalid

SAMPLE_BYTES: Final = 64 * 1024
MAX_LINE_BYTES: Final = 1024 * 1024  # a longer physical line is refused, not read into memory
MAX_COLUMNS: Final = 1000  # a row with more cells is refused (the header: the file)
MAX_FIELD_CHARS: Final = 256 * 1024

csv.field_size_limit(MAX_FIELD_CHARS)


@dataclass(frozen=True)
class Dialect:
    encoding: str
    delimiter: str


@dataclass
class Row:
    number: int  # 1 = the first data row after the header
    cells: list[str]
    offset: int  # byte offset just after the row
    problem: str = ""  # why the row could not be read (encoding, size); cells may be partial


def detect_encoding(sample: bytes, declared: str | None = None) -> str:
    """`declared`, else UTF-8 (with BOM: ``utf-8-sig``), else Windows-1252, else Latin-1."""
    if declared:
        if declared in ("utf-8", "utf8") and sample.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        return declared
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in ("utf-8", "cp1252"):
        try:
            # final=False: a sample may cut a multi-byte character at its end.
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def detect_delimiter(text: str, declared: str | None = None) -> str:
    """`declared`, else the one of ``,`` ``;`` tab that csv.Sniffer finds, else ``,``."""
    if declared:
        return declared
    lines = text.splitlines()[:50]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t").delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        counts = {d: header.count(d) for d in ",;\t"}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


class CsvReader:
    """Rows of one CSV file, from its start or from a byte offset after a committed row."""

    def __init__(
        self, path: Path, *, encoding: str | None = None, delimiter: str | None = None
    ) -> None:
        self.path = path
        try:
            with path.open("rb") as f:
                sample = f.read(SAMPLE_BYTES)
        except OSError as e:
            raise ImportFileInvalid(f"{path.name}: cannot be read ({e.strerror}).") from e
        if not sample.strip(b"\r\n\t ,;\xef\xbb\xbf"):
            raise ImportFileInvalid(f"{path.name}: the file is empty.", loc=("file",))
        enc = detect_encoding(sample, encoding)
        text = sample.decode(enc if enc != "utf-8-sig" else "utf-8-sig", errors="replace")
        self.dialect = Dialect(encoding=enc, delimiter=detect_delimiter(text, delimiter))
        self.header, self.data_offset = self._header()

    def _header(self) -> tuple[list[str], int]:
        with self.path.open("rb") as f:
            for row in self._rows(f):
                if row.problem:
                    raise ImportFileInvalid(f"{self.path.name}: the header {row.problem}.")
                header = [c.strip() for c in row.cells]
                if not any(header):
                    continue
                if len(header) > MAX_COLUMNS:
                    raise ImportFileInvalid(
                        f"{self.path.name}: the header has {len(header):,} columns; "
                        f"at most {MAX_COLUMNS:,} are supported.",
                        loc=("file",),
                    )
                return header, row.offset
        raise ImportFileInvalid(f"{self.path.name}: the file is empty.", loc=("file",))

    def rows(self, *, offset: int = 0, start_number: int = 0) -> Iterator[Row]:
        """Data rows after `offset` (default: after the header), numbered after `start_number`.

        Blank lines are skipped. A row with more cells than ``MAX_COLUMNS``, a line longer than
        ``MAX_LINE_BYTES`` or bytes the encoding cannot decode come back with `problem` set.
        """
        number = start_number
        with self.path.open("rb") as f:
            f.seek(max(offset, self.data_offset))
            for row in self._rows(f):
                if not row.problem and not any(row.cells):
                    continue
                number += 1
                row.number = number
                yield row

    def _rows(self, f: BinaryIO) -> Iterator[Row]:
        state = _LineState(encoding=self.dialect.encoding, offset=f.tell())
        reader = csv.reader(state.lines(f), delimiter=self.dialect.delimiter, strict=False)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                state.problem = ""
                yield Row(0, [], state.offset, f"cannot be read as CSV ({e})")
                continue
            problem, state.problem = state.problem, ""
            if not problem and len(cells) > MAX_COLUMNS:
                problem = f"has {len(cells):,} cells; at most {MAX_COLUMNS:,} are supported"
                cells = cells[:50]
            yield Row(0, cells, state.offset, problem)


@dataclass
class _LineState:
    encoding: str
    offset: int
    problem: str = ""

    def lines(self, f: BinaryIO) -> Iterator[str]:
        decode = codecs.getdecoder(self.encoding)
        while True:
            raw = f.readline(MAX_LINE_BYTES)
            if not raw:
                return
            self.offset += len(raw)
            if len(raw) == MAX_LINE_BYTES and not raw.endswith(b"\n"):
                self.offset += _skip_line(f)
                self.problem = f"is longer than {MAX_LINE_BYTES // 1024:,} KiB"
                yield "\n"
                continue
            try:
                line = decode(raw)[0]
            except UnicodeDecodeError as e:
                bad = raw[e.start : e.start + 1]
                self.problem = (
                    f"is not valid {self.encoding} (byte 0x{bad.hex()} at position {e.start}); "
                    "set [source].encoding in the mapping"
                )
                line = raw.decode(self.encoding, errors="replace")
            if line.startswith("\ufeff"):
                line = line[1:]
            yield line


def _skip_line(f: BinaryIO) -> int:
    skipped = 0
    while True:
        chunk = f.readline(MAX_LINE_BYTES)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def count_rows(path: Path) -> int:
    """A quick estimate of the data rows: the file's line breaks minus the header's."""
    lines = 0
    last = b"\n"
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)

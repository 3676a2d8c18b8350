"""The reader streams every encoding and dialect a CRM or a spreadsheet writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadloop.capture.imports.errors import ImportFileInvalid
from leadloop.capture.imports.reader import CsvReader

HEADER = ["Email", "Name", "City"]


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "leads.csv"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-8", "Email,Name,City\na@x.example,Zoë,Köln\n".encode()),
        ("utf-8-sig", "\ufeffEmail,Name,City\na@x.example,Zoë,Köln\n".encode()),
        ("cp1252", "Email,Name,City\na@x.example,Zoë,Köln\n".encode("cp1252")),
        # 0x81 is undefined in Windows-1252: only Latin-1 reads it.
        ("latin-1", b"Email,Name,City\na@x.example,Zo\xeb\x81,K\xf6ln\n"),
    ],
)
def test_every_supported_encoding_is_detected(tmp_path, encoding, data):
    reader = CsvReader(_write(tmp_path, data))

    rows = list(reader.rows())

    assert reader.dialect.encoding == encoding
    assert reader.header == HEADER
    assert rows[0].cells[2] == "Köln"
    assert rows[0].problem == ""


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_detected(tmp_path, delimiter):
    data = delimiter.join(HEADER) + "\n" + delimiter.join(["a@x.example", "Ann", "Bonn"]) + "\n"

    reader = CsvReader(_write(tmp_path, data.encode()))

    assert reader.dialect.delimiter == delimiter
    assert [r.cells for r in reader.rows()] == [["a@x.example", "Ann", "Bonn"]]


def test_quoted_newlines_and_crlf_stay_in_one_row(tmp_path):
    data = b'Email;Name;City\r\n"a@x.example";"Ann\r\nMarie";"Bonn"\r\n\r\n"b@x.example";"Bo";"Ulm"\r\n'

    rows = list(CsvReader(_write(tmp_path, data)).rows())

    assert [(r.number, r.cells) for r in rows] == [
        (1, ["a@x.example", "Ann\r\nMarie", "Bonn"]),
        (2, ["b@x.example", "Bo", "Ulm"]),
    ]


def test_reading_from_an_offset_continues_after_the_committed_row(tmp_path):
    data = b"Email,Name,City\na@x.example,Ann,Bonn\nb@x.example,Bo,Ulm\nc@x.example,Cy,Kiel\n"
    reader = CsvReader(_write(tmp_path, data))
    first = next(iter(reader.rows()))

    rest = list(reader.rows(offset=first.offset, start_number=first.number))

    assert [(r.number, r.cells[0]) for r in rest] == [(2, "b@x.example"), (3, "c@x.example")]


def test_bytes_the_encoding_cannot_read_reject_only_their_row(tmp_path):
    data = b"Email,Name,City\n" + b"a@x.example,Ann,Bonn\n" * 3000 + b"b@x.example,Zo\xff\xfe,Ulm\n"

    reader = CsvReader(_write(tmp_path, data), encoding="utf-8")
    rows = list(reader.rows())

    assert len(rows) == 3001
    assert rows[-1].problem.startswith("is not valid utf-8 (byte 0xff at position 14)")
    assert not any(r.problem for r in rows[:-1])


def test_a_row_of_10000_cells_is_refused_not_held(tmp_path):
    wide = ",".join(["x"] * 10_000)
    data = f"Email,Name,City\n{wide}\nb@x.example,Bo,Ulm\n".encode()

    rows = list(CsvReader(_write(tmp_path, data)).rows())

    assert rows[0].problem == "has 10,000 cells; at most 1,000 are supported"
    assert len(rows[0].cells) == 50
    assert rows[1].cells == ["b@x.example", "Bo", "Ulm"]


def test_a_header_of_10000_columns_refuses_the_file(tmp_path):
    wide = ",".join(f"c{i}" for i in range(10_000))

    with pytest.raises(ImportFileInvalid, match="the header has 10,000 cells; at most 1,000"):
        CsvReader(_write(tmp_path, f"{wide}\n".encode()))


def test_a_line_over_a_mebibyte_is_refused_not_read(tmp_path):
    data = b"Email,Name,City\n" + b"a" * (3 * 1024 * 1024) + b"\nb@x.example,Bo,Ulm\n"

    rows = list(CsvReader(_write(tmp_path, data)).rows())

    assert rows[0].problem == "is longer than 1,024 KiB"
    assert rows[1].cells == ["b@x.example", "Bo", "Ulm"]


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\xef\xbb\xbf"])
def test_an_empty_file_is_refused(tmp_path, data):
    with pytest.raises(ImportFileInvalid, match="the file is empty"):
        CsvReader(_write(tmp_path, data))

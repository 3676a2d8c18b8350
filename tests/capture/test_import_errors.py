"""Bad rows are rejected one by one with row, column, value and reason; bad files stop early.

The command exits 0 when every row was imported, 3 when some were rejected, 2 when the
mapping or the file cannot be used.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command

from leadloop.capture.imports.errors import ImportFileInvalid
from leadloop.capture.imports.mapping import mapping_parse
from leadloop.capture.models import ImportJob
from leadloop.leads.models import Lead
from tests.capture.import_support import run_import

pytestmark = pytest.mark.django_db

MAPPING = """
[fields]
email = "Email"
external_id = "Id"
first_name = "First"
country = "Country"
created_at = "Created"

[attributes]
employees = { column = "Employees", type = "number" }
"""


def _csv(tmp_path: Path, *rows: str, name: str = "leads.csv") -> Path:
    path = tmp_path / name
    lines = ["Email,Id,First,Country,Created,Employees", *rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _rejections(job: ImportJob) -> list[tuple[int, str, str, str]]:
    return [
        (r.row_number, r.column, r.value, r.reason)
        for r in job.rejections.order_by("row_number", "column")
    ]


def _import(path: Path) -> ImportJob:
    return run_import(path, "test", toml=MAPPING)


def test_every_bad_row_is_reported_and_the_good_rows_are_imported(tmp_path, time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 10, tzinfo=UTC), tick=False)
    path = _csv(
        tmp_path,
        "ann@x.example,,Ann,DE,2025-01-02,12",
        "not-an-address,,Bo,DE,2025-01-02,",
        ",,Cy,DE,2025-01-02,",
        "dee@x.example,,Dee,Germny,2025-01-02,",
        "eve@x.example,,Eve,DE,2027-01-01,",
        "fay@x.example,,Fay,DE,2025-13-45,",
        "gus@x.example,,Gus,DE,2025-01-02,a dozen",
        ",crm-8,Hal,Germany,2025-01-02,3.5",
    )

    job = _import(path)

    assert (job.rows_done, job.created, job.rejected) == (8, 2, 6)
    assert _rejections(job) == [
        (2, "Email", "not-an-address", "not an e-mail address"),
        (3, "Email", "", "no e-mail and no external id: a lead needs one of them"),
        (4, "Country", "Germny", "not an ISO country code or name (did you mean DE?)"),
        (5, "Created", "2027-01-01", "the date is in the future"),
        (6, "Created", "2025-13-45", "not a date (ISO 8601 or a common format)"),
        (7, "Employees", "a dozen", "not a number"),
    ]
    assert sorted(Lead.objects.values_list("first_name", "country")) == [
        ("Ann", "DE"),
        ("Hal", "DE"),
    ]
    assert Lead.objects.get(external_id="crm-8").attributes == {"employees": 3.5}


def test_a_row_with_several_errors_reports_each_column(tmp_path):
    path = _csv(tmp_path, "nope,,Ann,Atlantis,yesterday,")

    job = _import(path)

    assert [(c, v) for _, c, v, _ in _rejections(job)] == [
        ("Country", "Atlantis"), ("Created", "yesterday"), ("Email", "nope")]  # fmt: skip


def test_a_row_the_encoding_cannot_read_is_rejected(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(
        b"Email,Id,First,Country,Created,Employees\n"
        + b"ann@x.example,,Ann,DE,,\n" * 2000
        + b"bo@x.example,,B\xf6,DE,,\n"
    )

    job = run_import(path, "test", toml='[source]\nencoding = "utf-8"\n' + MAPPING)

    assert (job.created, job.rejected) == (1, 1)
    assert _rejections(job)[0][:2] == (2001, "")
    assert "is not valid utf-8 (byte 0xf6" in _rejections(job)[0][3]


def test_a_row_of_10000_columns_is_rejected_and_the_rest_imported(tmp_path):
    path = _csv(tmp_path, ",".join(["x"] * 10_000), "ann@x.example,,Ann,DE,,")

    job = _import(path)

    assert (job.created, job.rejected) == (1, 1)
    assert _rejections(job) == [
        (1, "", "", "the row has 10,000 cells; at most 1,000 are supported")]  # fmt: skip
    assert len(job.rejections.get().raw) == 50


def test_a_file_with_one_column_is_refused_as_a_wrong_delimiter(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("Email|Id|First|Country|Created|Employees\na@x.example|||||\n")

    with pytest.raises(ImportFileInvalid, match=r"The file has one column only .* delimiter wrong"):
        _import(path)


def test_a_column_the_mapping_names_must_be_in_the_header(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("Email,First\na@x.example,Ann\n")

    with pytest.raises(ImportFileInvalid, match=r"Column 'Country' \(\[fields\].country\) is not"):
        _import(path)


def _command(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_:
        call_command("import", *args)
    return int(exit_.value.code or 0)


def _mapping_file(tmp_path: Path, text: str = MAPPING) -> str:
    path = tmp_path / "mapping.toml"
    path.write_text(text)
    return str(path)


def test_the_command_exits_0_when_every_row_is_imported(tmp_path, capsys):
    path = _csv(tmp_path, "ann@x.example,,Ann,DE,2025-01-02,12")

    code = _command("leads", str(path), "--mapping", _mapping_file(tmp_path))

    assert code == 0
    assert "1 rows; 1 leads created, 0 updated, 0 rows rejected." in capsys.readouterr().out


def test_the_command_exits_3_and_writes_the_rejects_when_rows_are_rejected(tmp_path, capsys):
    path = _csv(tmp_path, "ann@x.example,,Ann,DE,,", "bad,,Bo,DE,,")
    rejects = tmp_path / "rejects.csv"

    code = _command(
        "leads", str(path), "--mapping", _mapping_file(tmp_path), "--rejects", str(rejects)
    )

    assert code == 3
    assert "row 2, column 'Email': 'bad': not an e-mail address" in capsys.readouterr().out
    with rejects.open(encoding="utf-8") as f:
        assert list(csv.reader(f)) == [
            ["row", "column", "value", "reason", "cells"],
            ["2", "Email", "bad", "not an e-mail address", "bad", "", "Bo", "DE", "", ""],
        ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "error: leads.csv: the file is empty."),
        (b"Email;Id;First;Country;Created;Employees\n", "error: The file has one column only"),
    ],
)
def test_the_command_exits_2_on_a_file_it_cannot_import(tmp_path, capsys, content, message):
    path = tmp_path / "leads.csv"
    path.write_bytes(content)
    mapping = _mapping_file(tmp_path, '[source]\ndelimiter = ","\n' + MAPPING)

    code = _command("leads", str(path), "--mapping", mapping)

    assert code == 2
    assert capsys.readouterr().err.startswith(message)


def test_the_command_exits_2_on_a_bad_mapping_naming_the_key(tmp_path, capsys):
    path = _csv(tmp_path, "ann@x.example,,Ann,DE,,")
    mapping = _mapping_file(tmp_path, '[fields]\nemail = "Email"\nmood = "First"\n')

    code = _command("leads", str(path), "--mapping", mapping)

    assert code == 2
    assert "[fields].mood is not a Leadloop field" in capsys.readouterr().err


def test_a_dry_run_checks_every_row_and_writes_no_lead(tmp_path, capsys):
    path = _csv(tmp_path, "ann@x.example,,Ann,DE,,", "ann@x.example,,Ann,DE,,", "bad,,Bo,,,")

    code = _command("leads", str(path), "--mapping", _mapping_file(tmp_path), "--dry-run")

    assert code == 3
    assert "1 leads would be created, 1 would be updated, 1 rows rejected" in (
        capsys.readouterr().out
    )
    assert Lead.objects.count() == 0


def test_mapping_parse_accepts_the_test_mapping():
    assert mapping_parse(MAPPING).fields["email"] == "Email"

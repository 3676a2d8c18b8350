"""The import runner: lead_upsert's semantics in bulk, stage histories, re-runs and resume."""

from __future__ import annotations

import csv
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import LeadData, lead_upsert
from leadloop.lifecycle.models import StageChange
from tests.accounts.factories import UserFactory
from tests.capture.import_support import run_import
from tests.common.conftest import clean_environ
from tests.leads.factories import LeadFactory

MAPPING = """
[fields]
email = "Email"
external_id = "Id"
first_name = "First"
last_name = "Last"
title = "Title"
company = "Company"
domain = "Website"
country = "Country"

[attributes]
plan = { column = "Plan", type = "category" }
"""
HEADER = ["Email", "Id", "First", "Last", "Title", "Company", "Website", "Country", "Plan"]


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _fields(lead: Lead) -> tuple[object, ...]:
    return (
        lead.email, lead.external_id, lead.first_name, lead.last_name, lead.title,
        lead.country, lead.company.domain if lead.company else None,
        lead.company.name if lead.company else None, lead.attributes,
    )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    "row",
    [
        ["Ann@Acme.example ", "crm-1", "Ann", "Lee", "CTO", "Acme", "https://www.acme.example/", "DE", "pro"],
        ["bo@gmail.com", "", "Bo", "", "", "Bo's shop", "", "", ""],
        ["", "crm-3", "Cy", "", "", "", "", "fr", "free"],
    ],
)  # fmt: skip
def test_importing_a_row_gives_the_lead_lead_upsert_gives(tmp_path, row):
    data = LeadData(
        email=row[0], external_id=row[1], first_name=row[2], last_name=row[3], title=row[4],
        company_name=row[5], company_domain=row[6], country=row[7].upper(),
        attributes={"plan": row[8]} if row[8] else {},
    )  # fmt: skip
    expected = _fields(lead_upsert(data=data).lead)
    Lead.objects.all().delete()

    run_import(_csv(tmp_path / "a.csv", HEADER, [row]), "t", toml=MAPPING)

    assert _fields(Lead.objects.get()) == expected


@pytest.mark.django_db
def test_an_import_never_erases_and_merges_attributes_like_lead_upsert(tmp_path):
    lead = LeadFactory(email="ann@acme.example", title="CEO", attributes={"tier": "gold"})
    row = ["ann@acme.example", "", "Annie", "", "", "", "", "", "pro"]

    job = run_import(_csv(tmp_path / "a.csv", HEADER, [row]), "t", toml=MAPPING)

    lead.refresh_from_db()
    assert (job.created, job.updated) == (0, 1)
    assert (lead.first_name, lead.title) == ("Annie", "CEO")
    assert lead.attributes == {"tier": "gold", "plan": "pro"}


@pytest.mark.django_db
def test_rerunning_the_same_file_updates_and_duplicates_nothing(tmp_path):
    rows = [
        [f"p{i}@acme.example", f"crm-{i}", "P", "", "", "Acme", "", "DE", ""] for i in range(30)
    ]
    path = _csv(tmp_path / "a.csv", HEADER, rows)
    run_import(path, "t", toml=MAPPING, batch_rows=7)

    job = run_import(path, "t", toml=MAPPING, batch_rows=7)

    assert (job.created, job.updated, job.rejected) == (0, 30, 0)
    assert Lead.objects.count() == 30
    assert StageChange.objects.count() == 30  # one entry each, from the first run


HUBSPOT_HEADER = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Job Title", "Company Name",
    "Website URL", "Country/Region", "Lifecycle Stage", "Create Date", "Original Source",
    "Contact owner", "Became a Subscriber Date", "Became a Lead Date",
    "Became a Marketing Qualified Lead Date", "Became a Sales Qualified Lead Date",
    "Became an Opportunity Date", "Became a Customer Date",
]  # fmt: skip


@pytest.mark.django_db
def test_a_hubspot_export_arrives_with_its_stage_history(tmp_path):
    owner = UserFactory(email="rep@ours.example", first_name="Rita", last_name="Rep")
    row = [
        "101", "Ann", "Lee", "ann@acme.example", "+49 30 1", "CTO", "Acme", "acme.example",
        "Germany", "Customer", "2024-01-05 09:00", "ORGANIC_SEARCH", "Rita Rep", "",
        "2024-01-05 09:00", "2024-02-01 10:00", "2024-02-10 11:00", "2024-03-01 12:00",
        "2024-04-01 13:00",
    ]  # fmt: skip
    path = _csv(tmp_path / "hubspot.csv", HUBSPOT_HEADER, [row])

    job = run_import(path, "hubspot")

    lead = Lead.objects.get()
    assert (job.created, job.rejected) == (1, 0)
    assert (lead.stage, lead.country, lead.source, lead.owner) == (
        Stage.CUSTOMER, "DE", "organic_search", owner)  # fmt: skip
    assert list(lead.stage_changes.order_by("at").values_list("to_stage", "rule")) == [
        (Stage.LEAD, "import"), (Stage.MQL, "import"), (Stage.SQL, "import"),
        (Stage.OPPORTUNITY, "import"), (Stage.CUSTOMER, "import"),
    ]  # fmt: skip
    assert lead.mql_first_at == datetime(2024, 2, 1, 10, tzinfo=UTC)
    assert (lead.cycle, lead.customer_first_at) == (1, datetime(2024, 4, 1, 13, tzinfo=UTC))


SALESFORCE_HEADER = [
    "Lead ID", "First Name", "Last Name", "Title", "Company", "Email", "Phone", "Country",
    "Lead Source", "Lead Status", "Created Date", "Lead Owner", "Converted", "Converted Date",
    "Website",
]  # fmt: skip


@pytest.mark.django_db
def test_a_salesforce_export_maps_status_onto_stages_and_reasons(tmp_path):
    rows = [
        ["00Q1", "Ann", "Lee", "CTO", "Acme", "ann@acme.example", "", "US", "Web",
         "Closed - Converted", "3/14/2024", "", "1", "4/2/2024", "www.acme.example"],
        ["00Q2", "Bo", "Ray", "", "Beta", "bo@beta.example", "", "USA", "Web",
         "Closed - Not Converted", "3/15/2024", "", "0", "", ""],
    ]  # fmt: skip
    path = _csv(tmp_path / "sf.csv", SALESFORCE_HEADER, rows)

    job = run_import(path, "salesforce")

    assert (job.created, job.rejected) == (2, 0)
    ann, bo = Lead.objects.get(external_id="00Q1"), Lead.objects.get(external_id="00Q2")
    assert (ann.stage, ann.opportunity_first_at) == (
        Stage.OPPORTUNITY, datetime(2024, 4, 2, tzinfo=UTC))  # fmt: skip
    assert (bo.stage, bo.country) == (Stage.DISQUALIFIED, "US")
    assert bo.stage_changes.get(to_stage=Stage.DISQUALIFIED).reason == "not_converted"


@pytest.mark.django_db
def test_an_outcome_column_gives_won_and_lost_leads(tmp_path):
    header = ["Email", "Result"]
    rows = [["a@x.example", "yes"], ["b@x.example", "no"], ["c@x.example", "open"]]
    toml = (
        '[fields]\nemail = "Email"\n[outcome]\ncolumn = "Result"\nwon = ["yes"]\n'
        'lost = ["no"]\nlost_stage = "disqualified"\nlost_reason = "no_budget"\n'
    )

    run_import(_csv(tmp_path / "o.csv", header, rows), "o", toml=toml)

    stages = dict(Lead.objects.values_list("email", "stage"))
    assert stages == {
        "a@x.example": Stage.CUSTOMER, "b@x.example": Stage.DISQUALIFIED,
        "c@x.example": Stage.LEAD,
    }  # fmt: skip
    assert StageChange.objects.get(to_stage=Stage.DISQUALIFIED).reason == "no_budget"


# --- kill -9 and resume, for real ---------------------------------------------------------------


def _leadloop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadloop.manage", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_an_import_killed_mid_way_resumes_without_duplicates(tmp_path):
    rows = 12_000
    data = _csv(
        tmp_path / "big.csv",
        ["Email", "First", "Created", "Became MQL", "Won"],
        [
            [f"p{i}@co{i % 300}.example", f"P{i}", "2024-01-02", "2024-02-03", "yes" if i % 4 else ""]
            for i in range(rows)
        ],
    )  # fmt: skip
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[fields]\nemail = "Email"\nfirst_name = "First"\ncreated_at = "Created"\n'
        'mql_at = "Became MQL"\n[outcome]\ncolumn = "Won"\nwon = ["yes"]\n'
    )
    env = clean_environ(tmp_path / "var", DEBUG="true")
    assert _leadloop(env, "migrate", "-v0").returncode == 0
    database = tmp_path / "var" / "leadloop.sqlite3"
    command = [sys.executable, "-m", "leadloop.manage", "import", "leads", str(data)]
    process = subprocess.Popen(
        [*command, "--mapping", str(mapping), "--batch", "500"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    done = _wait_for_rows(database, process, at_least=1000)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if done >= rows:
        pytest.fail("the import finished before it could be killed; make the file bigger")

    # The killed process beat a moment ago: a plain resume takes it for alive and refuses;
    # whoever killed it knows better and forces it (or waits out HEARTBEAT_STALE_AFTER).
    refused = _leadloop(env, "import", "resume", "1")
    resumed = _leadloop(env, "import", "resume", "1", "--force")

    assert refused.returncode == 1
    assert "Import 1 is running: its last heartbeat was" in refused.stderr
    assert "leadloop import resume 1 --force" in refused.stderr
    assert resumed.returncode == 0, resumed.stderr
    with sqlite3.connect(database) as db:
        job = db.execute(
            "SELECT status, rows_done, created, rejected FROM capture_importjob"
        ).fetchone()
        leads = db.execute("SELECT count(*), count(DISTINCT email) FROM leads_lead").fetchone()
        changes = db.execute(
            "SELECT to_stage, count(*) FROM lifecycle_stagechange GROUP BY 1 ORDER BY 1"
        ).fetchall()
        touches = db.execute("SELECT count(*) FROM capture_touch").fetchone()
    assert job == ("done", rows, rows, 0)
    assert leads == (rows, rows)
    assert changes == [("customer", 9000), ("lead", rows), ("mql", rows)]
    assert touches == (0,)


def _wait_for_rows(database: Path, process: subprocess.Popen[bytes], *, at_least: int) -> int:
    """Poll the job's committed rows until `at_least` (or the process ends); return them."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the import ended early with {process.returncode}")
        try:
            with sqlite3.connect(database, timeout=1) as db:
                row = db.execute("SELECT rows_done FROM capture_importjob").fetchone()
        except sqlite3.OperationalError:
            row = None
        if row and row[0] >= at_least:
            return int(row[0])
        time.sleep(0.05)
    pytest.fail("the import committed no batch within 120 s")

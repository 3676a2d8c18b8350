"""The imports pages: upload and map, preview with errors, start in the background, progress,
rejects, resume."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from leadloop.accounts.models import Role
from leadloop.capture.imports.mapping import mapping_parse
from leadloop.capture.models import ImportJob, ImportStatus
from leadloop.leads.models import Lead
from leadloop.loop.imports import import_start
from leadloop.loop.tasks import import_leads
from tests.accounts.factories import UserFactory
from tests.capture.import_support import dataset
from tests.web.helpers import figure, table_rows, text

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
MAPPING = '[fields]\nemail = "Email"\nfirst_name = "First"\ncountry = "Country"\n'
CSV = b"Email,First,Country\nann@x.example,Ann,DE\nnot-mail,Bo,DE\ncy@x.example,Cy,Germny\n"


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def ops(client):
    user = UserFactory(role=Role.MARKETING_OPS)
    client.force_login(user)
    return user


def _upload(content: bytes = CSV, name: str = "leads.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_a_sales_rep_cannot_import(client):
    client.force_login(UserFactory(role=Role.SALES_REP))

    assert client.get(reverse("web:import_list")).status_code == 403


def test_the_preview_shows_the_first_rows_as_mapped_with_their_errors(client, ops, media):
    response = client.post(
        reverse("web:import_new"),
        {"file": _upload(), "mapping_toml": MAPPING, "action": "preview"},
    )

    assert response.status_code == 200
    rows = table_rows(response, "preview")
    assert rows[0] == ["1", "ann@x.example", "Ann", "DE"]
    assert rows[1][1] == "not-mail not an e-mail address"
    assert rows[2][3] == "Germny not an ISO country code or name (did you mean DE?)"
    assert "data-start" in text(response)
    assert [p.name.endswith("-leads.csv") for p in (media / "imports").iterdir()] == [True]
    assert ImportJob.objects.count() == 0


def test_a_bad_mapping_is_shown_naming_the_key(client, ops):
    response = client.post(
        reverse("web:import_new"),
        {"file": _upload(), "mapping_toml": '[fields]\nemail = "Email"\nmood = "First"\n'},
    )

    assert response.status_code == 400
    assert "[fields].mood is not a Leadloop field" in text(response)


def test_an_empty_file_is_refused_on_upload(client, ops):
    response = client.post(reverse("web:import_new"), {"file": _upload(b""), "preset": "hubspot"})

    assert response.status_code == 400
    assert "the file is empty" in text(response)


@override_settings(TASKS=IMMEDIATE)
def test_starting_runs_the_import_in_the_background_and_shows_the_result(
    client, ops, media, django_capture_on_commit_callbacks
):
    preview = client.post(reverse("web:import_new"), {"file": _upload(), "mapping_toml": MAPPING})
    stored = preview.context["stored"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("web:import_new"),
            {
                "stored": stored,
                "file_name": "leads.csv",
                "mapping_toml": MAPPING,
                "action": "start",
            },
        )

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("web:import_detail", args=[job.pk])
    assert Path(job.file_path).parent == media / "imports"
    assert (job.status, job.created, job.rejected, job.created_by) == (
        ImportStatus.DONE, 1, 2, ops)  # fmt: skip
    assert Lead.objects.get().email == "ann@x.example"
    page = client.get(response["Location"])
    assert figure(page, "created") == "1"
    assert figure(page, "rejected") == "2"
    assert table_rows(page, "rejections") == [
        ["2", "Email", "not-mail", "not an e-mail address"],
        ["3", "Country", "Germny", "not an ISO country code or name (did you mean DE?)"],
    ]
    listing = client.get(reverse("web:import_list"))
    assert table_rows(listing, "imports")[0][:3] == [
        "leads.csv",
        "custom mapping",
        "Done, 2 rejected",
    ]


def test_the_rejects_download_as_csv(client, ops, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(CSV)
    job = import_start(path=path, mapping=mapping_parse(MAPPING))
    import_leads.call(job_id=job.pk)

    response = client.get(reverse("web:import_rejects_csv", args=[job.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.decode().splitlines()[1] == (
        "2,Email,not-mail,not an e-mail address,not-mail,Bo,DE"
    )


def test_progress_is_polled_while_the_import_runs(client, ops, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(CSV)
    job = import_start(path=path, mapping=mapping_parse(MAPPING))
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, rows_done=1, heartbeat_at=timezone.now()
    )

    response = client.get(reverse("web:import_progress", args=[job.pk]))

    assert 'hx-trigger="every 1s"' in text(response)
    assert (figure(response, "rows_done"), figure(response, "rows_total")) == ("1", "3")
    assert figure(response, "percent").startswith("33%")


def _running(tmp_path: Path, *, beat_ago: timedelta) -> ImportJob:
    path = tmp_path / "leads.csv"
    path.write_bytes(CSV)
    job = import_start(path=path, mapping=mapping_parse(MAPPING))
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, rows_done=1, heartbeat_at=timezone.now() - beat_ago
    )
    return job


def test_a_running_import_shows_its_progress_and_no_resume(client, ops, tmp_path):
    job = _running(tmp_path, beat_ago=timedelta(seconds=3))

    page = client.get(reverse("web:import_detail", args=[job.pk]))

    assert 'data-state="running"' in text(page)
    assert figure(page, "rows_done") == "1"
    assert "last heartbeat 3 s ago" in text(page)
    assert "data-resume" not in text(page)
    assert table_rows(client.get(reverse("web:import_list")), "imports")[0][2] == "Running"


@override_settings(TASKS=IMMEDIATE)
def test_resuming_a_running_import_from_the_page_is_refused(
    client, ops, tmp_path, django_capture_on_commit_callbacks
):
    job = _running(tmp_path, beat_ago=timedelta(seconds=3))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:import_resume", args=[job.pk]), follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        f"Import {job.pk} is running: its last heartbeat was 3 s ago. "
        "It can be resumed once it has not beaten for 60 s."
    ]
    job.refresh_from_db()
    assert (job.status, job.rows_done, Lead.objects.count()) == (ImportStatus.RUNNING, 1, 0)


def test_an_import_silent_for_a_minute_shows_interrupted_with_resume(client, ops, tmp_path):
    job = _running(tmp_path, beat_ago=timedelta(minutes=3))

    page = client.get(reverse("web:import_progress", args=[job.pk]))

    assert 'data-state="interrupted"' in text(page)
    assert "no heartbeat for 3 min" in text(page)
    assert "data-resume" in text(page)
    assert "hx-trigger" not in text(page)


@override_settings(TASKS=IMMEDIATE)
def test_an_interrupted_import_resumes_from_the_page(
    client, ops, tmp_path, django_capture_on_commit_callbacks
):
    path = tmp_path / "leads.csv"
    path.write_bytes(CSV)
    job = import_start(path=path, mapping=mapping_parse(MAPPING))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING)  # a killed worker
    assert "data-resume" in text(client.get(reverse("web:import_detail", args=[job.pk])))

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("web:import_resume", args=[job.pk]))

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created) == (ImportStatus.DONE, 3, 1)


def test_a_real_export_with_the_wrong_preset_is_refused_naming_the_column(client, ops):
    content = dataset("zoho_crm_demo_leads/Leads.csv").read_bytes()

    response = client.post(
        reverse("web:import_new"), {"file": _upload(content), "preset": "hubspot"}
    )

    assert response.status_code == 400
    assert "Column &#x27;Became a Customer Date&#x27; ([fields].customer_at) is not in" in (
        text(response)
    )

"""An import's page in a real browser: while the import beats it shows progress and no
"Resume"; when its heartbeat goes stale the polled panel turns to "Interrupted" with "Resume".
Screenshots: artifacts/screenshots/import-running.png, import-interrupted.png."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from leadloop.accounts.models import Role
from leadloop.capture.imports.jobs import HEARTBEAT_STALE_AFTER
from leadloop.capture.imports.mapping import mapping_parse
from leadloop.capture.models import ImportJob, ImportStatus
from leadloop.loop.imports import import_start
from tests.accounts.factories import UserFactory
from tests.web.conftest import SHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def test_a_running_import_turns_resumable_when_its_heartbeat_goes_stale(
    browser, live_server, tmp_path
):
    UserFactory(username="mara", role=Role.MARKETING_OPS)
    path = tmp_path / "leads.csv"
    path.write_text("Email,First\n" + "".join(f"p{i}@x.example,P{i}\n" for i in range(40)))
    job = import_start(path=path, mapping=mapping_parse('[fields]\nemail = "Email"\n'))
    jobs = ImportJob.objects.filter(pk=job.pk)
    jobs.update(status=ImportStatus.RUNNING, rows_done=10, heartbeat_at=timezone.now())
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mara")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/imports/{job.pk}/")
    panel = page.locator("#import-progress")
    assert panel.locator('[data-state="running"]').inner_text() == "Running"
    assert panel.locator('[data-figure="percent"]').inner_text().startswith("25%")
    assert page.locator("[data-resume]").count() == 0
    page.screenshot(path=str(SHOTS / "import-running.png"), full_page=True)

    jobs.update(heartbeat_at=timezone.now() - HEARTBEAT_STALE_AFTER - timedelta(seconds=5))
    page.locator('[data-state="interrupted"]').wait_for(timeout=10_000)

    assert page.get_by_role("button", name="Resume after row 0").is_visible()
    assert re.search(r"no heartbeat for 6\d s", panel.inner_text())
    page.screenshot(path=str(SHOTS / "import-interrupted.png"), full_page=True)
    assert errors == []
    page.close()

"""An import's heartbeat: a live import is never resumed; a silent one (interrupted) is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from leadloop.capture.imports.jobs import (
    HEARTBEAT_EVERY,
    HEARTBEAT_STALE_AFTER,
    ImportRunning,
    ImportState,
    import_resumable,
    import_state,
)
from leadloop.capture.imports.mapping import mapping_parse
from leadloop.capture.models import ImportJob, ImportStatus
from leadloop.leads.models import Lead
from leadloop.loop.imports import import_run, import_start

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MAPPING = '[fields]\nemail = "Email"\nfirst_name = "First"\n'


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def _job(tmp_path: Path, rows: int = 3) -> ImportJob:
    path = tmp_path / "leads.csv"
    path.write_text("Email,First\n" + "".join(f"p{i}@x.example,P{i}\n" for i in range(rows)))
    return import_start(path=path, mapping=mapping_parse(MAPPING))


def _killed(job: ImportJob, *, beat_ago: timedelta) -> ImportJob:
    """The job as a process killed mid-way leaves it: running, last beat `beat_ago` ago."""
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.RUNNING, heartbeat_at=NOW - beat_ago
    )
    job.refresh_from_db()
    return job


def test_a_running_import_with_a_fresh_heartbeat_is_running_not_interrupted(now, tmp_path):
    job = _killed(_job(tmp_path), beat_ago=HEARTBEAT_STALE_AFTER - timedelta(seconds=1))

    assert import_state(job) == ImportState.RUNNING
    assert not import_resumable(job)


def test_a_running_import_whose_heartbeat_is_stale_is_interrupted(now, tmp_path):
    job = _killed(_job(tmp_path), beat_ago=HEARTBEAT_STALE_AFTER)

    assert import_state(job) == ImportState.INTERRUPTED
    assert import_resumable(job)


def test_a_fresh_heartbeat_blocks_resuming(now, tmp_path):
    job = _killed(_job(tmp_path), beat_ago=timedelta(seconds=12))

    with pytest.raises(ImportRunning, match=r"^Import \d+ is running: its last heartbeat was 12 s ago\. It can be resumed once it has not beaten for 60 s\.$"):  # fmt: skip
        import_run(job_id=job.pk)

    job.refresh_from_db()
    assert (job.status, job.heartbeat_at, job.rows_done) == (
        ImportStatus.RUNNING, NOW - timedelta(seconds=12), 0)  # fmt: skip
    assert Lead.objects.count() == 0


def test_a_stale_heartbeat_lets_the_import_resume(now, tmp_path):
    job = _killed(_job(tmp_path), beat_ago=HEARTBEAT_STALE_AFTER + timedelta(seconds=1))

    job = import_run(job_id=job.pk)

    assert (job.status, job.rows_done, job.created) == (ImportStatus.DONE, 3, 3)
    assert job.heartbeat_at == NOW
    assert Lead.objects.count() == 3


def test_force_resumes_an_import_whose_heartbeat_is_fresh(now, tmp_path):
    job = _killed(_job(tmp_path), beat_ago=timedelta(seconds=2))

    job = import_run(job_id=job.pk, force=True)

    assert (job.status, job.created) == (ImportStatus.DONE, 3)


def test_an_import_beats_at_start_and_after_batches_at_most_every_few_seconds(now, tmp_path):
    job = _job(tmp_path, rows=3)
    beats: list[datetime | None] = []

    def after_batch(seen: ImportJob) -> None:
        beats.append(seen.heartbeat_at)
        now.shift(timedelta(seconds=2 if len(beats) == 1 else 4))

    import_run(job_id=job.pk, batch_rows=1, progress=after_batch)

    # The start beats; 2 s later a batch commits without beating; 6 s after the start it beats.
    assert timedelta(seconds=2) < HEARTBEAT_EVERY < timedelta(seconds=6)
    assert beats == [NOW, NOW, NOW + timedelta(seconds=6)]


def test_resume_on_the_command_line_refuses_a_running_import_saying_when_it_last_beat(
    now, tmp_path
):
    job = _killed(_job(tmp_path), beat_ago=timedelta(seconds=40))

    with pytest.raises(CommandError) as refused:
        call_command("import", "resume", str(job.pk))

    assert str(refused.value) == (
        f"Import {job.pk} is running: its last heartbeat was 40 s ago. It can be resumed once "
        "it has not beaten for 60 s. If you know its process is gone (you killed it), resume "
        f"it now with: leadloop import resume {job.pk} --force"
    )
    assert Lead.objects.count() == 0


def test_resume_on_the_command_line_with_force_resumes_a_running_import(now, tmp_path, capsys):
    job = _killed(_job(tmp_path), beat_ago=timedelta(seconds=5))

    with pytest.raises(SystemExit) as exit_:
        call_command("import", "resume", str(job.pk), "--force")

    assert exit_.value.code == 0
    assert ImportJob.objects.get().status == ImportStatus.DONE
    assert Lead.objects.count() == 3

"""Public form submissions: received at once, captured by a worker a moment later.

    POST /f/<slug> → ``submission_receive``: checked against the form (every wrong field named
    to the visitor), stored as one FormSubmission row, answered; a capture task is asked for
    → ``submissions_capture`` (a worker, ``loop.tasks.capture_submissions``): pending rows are
    claimed in batches under a lease; each form's rows are captured in one transaction
    (``loop.ingest.captures_ingest``: what ``lead_capture`` does for each — lead, touch, score,
    qualification — in bulk) and deleted (on SQLite the rows live in the queue file, so right
    after that transaction's commit; see ``common.database``) → what cannot be captured (an
    e-mail and external id of two different leads, …) stays as a failed row with its error,
    for marketing ops to retry or discard.

Why not capture in the request: a launch e-mail or a webinar reminder brings hundreds of
submissions a second; the endpoint then costs about one INSERT each (benchmarks/form_capture.py)
and the lead appears a second or two later — as in HubSpot, whose form submissions are
processed asynchronously too. Nothing is lost: a worker killed mid-way leaves its claimed rows
to be claimed again when the lease ends, and capturing a row twice records one touch (its
external id) and updates the lead with the same values.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.capture.forms import can_edit_forms
from leadloop.capture.models import Form, FormSubmission, SubmissionStatus
from leadloop.common.database import prepared_cursor, queue_alias
from leadloop.common.errors import NotFound, PermissionDenied
from leadloop.loop.forms import (
    FormSubmitted,
    form_answer,
    submission_check,
    submission_inputs,
    submission_rule,
)
from leadloop.loop.ingest import captures_ingest

log = logging.getLogger(__name__)

BATCH: Final = 100  # submissions claimed at once
LEASE: Final = timedelta(minutes=5)  # a claim older than this was a worker that stopped
MAX_ATTEMPTS: Final = 5  # claims that ended without an answer before a row is marked failed
YIELD_MAX: Final = 0.25  # SQLite: the longest pause between batches, in seconds
KICK_SECONDS: Final = 1.0  # at most one capture task per web process per this many seconds


def submission_receive(
    *,
    form: Form,
    values: Mapping[str, Any],
    page_url: str = "",
    referrer: str = "",
    at: datetime | None = None,
) -> FormSubmitted:
    """Check `values` against `form` and store the submission, received at `at` (now), for a
    worker to capture.

    `page_url` and `referrer` are those of the page the form was on: its UTM parameters
    attribute the touch. Raises SubmissionInvalid naming every wrong field. A filled honeypot
    stores nothing and is answered as usual.
    """
    at = at or timezone.now()
    payload = submission_check(
        form=form, values=values, page_url=page_url, referrer=referrer, at=at
    )
    if payload is not None:
        alias = queue_alias()
        _store(connections[alias], form_id=form.pk, at=at, payload=payload)
        transaction.on_commit(submissions_kick, using=alias)
    return form_answer(form)


def _store(
    connection: BaseDatabaseWrapper, *, form_id: int, at: datetime, payload: dict[str, Any]
) -> None:
    """Insert one pending row: the endpoint's only statement, so without the ORM (building the
    INSERT cost more than the rest of a submission's checks); on PostgreSQL prepared once per
    connection, its values bound by the server."""
    value = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    with prepared_cursor(connection) as cursor:
        cursor.execute(
            f"INSERT INTO {FormSubmission._meta.db_table} "
            "(form_id, received_at, payload, status, attempts, error) "
            f"VALUES (%s, %s, {value}, %s, 0, '')",
            [
                form_id,
                connection.ops.adapt_datetimefield_value(at),
                json.dumps(payload),
                SubmissionStatus.PENDING.value,
            ],
        )


class _Kick:
    """When this process last asked for a capture task."""

    lock = threading.Lock()
    at: float | None = None


def submissions_kick() -> bool:
    """Ask for a capture task unless this process asked less than KICK_SECONDS ago; True if
    it asked.

    A task that may start late (the database and Redis backends) is deferred by KICK_SECONDS,
    so it starts after every submission this process skipped asking for: a burst of
    submissions costs one task per process per second, and none waits for a later one.
    """
    from leadloop.loop.tasks import capture_submissions

    now = time.monotonic()
    with _Kick.lock:
        if _Kick.at is not None and now - _Kick.at < KICK_SECONDS:
            return False
        _Kick.at = now
    task = capture_submissions
    try:
        if task.get_backend().supports_defer:
            task = task.using(run_after=timezone.now() + timedelta(seconds=KICK_SECONDS))
        task.enqueue()
    except Exception:  # the queue is down: the submission is stored, the 60 s sweep captures it
        log.exception("could not ask for a capture task; the scheduler's sweep will capture")
        with _Kick.lock:
            _Kick.at = None  # the next submission asks again
        return False
    return True


def submissions_kick_reset() -> None:
    """Forget the last request for a task (tests)."""
    with _Kick.lock:
        _Kick.at = None


@dataclass(frozen=True)
class CaptureRun:
    captured: int = 0
    failed: int = 0


def submissions_capture(*, limit: int | None = None) -> CaptureRun:
    """Capture pending submissions, oldest first, until none is left (or `limit` were tried).

    Safe to run in several workers at once: each claims its own rows. Raises a database error
    that is not about the row itself (the database went away): the claimed rows are captured
    when their lease ends.
    """
    captured = failed = 0
    while limit is None or captured + failed < limit:
        batch = BATCH if limit is None else min(BATCH, limit - captured - failed)
        ids = _claim(batch)
        if not ids:
            break
        by_form: dict[int, list[FormSubmission]] = {}
        for row in FormSubmission.objects.filter(pk__in=ids).order_by("pk"):
            by_form.setdefault(row.form_id, []).append(row)
        forms = Form.objects.in_bulk(by_form)
        for form_id, group in by_form.items():
            started = time.monotonic()
            done, errors = _capture_bulk(forms[form_id], group)
            captured += done
            failed += errors
            if connection.vendor == "sqlite":
                # SQLite has one writer at a time, and whoever else writes to the main file
                # (people in the UI, the API, an import) waits in its sleeping busy handler:
                # leave the lock free as long as this batch held it. (The form endpoint
                # writes to the queue file: it does not wait for this.)
                time.sleep(min(time.monotonic() - started, YIELD_MAX))
    return CaptureRun(captured=captured, failed=failed)


def _capture_bulk(form: Form, rows: list[FormSubmission]) -> tuple[int, int]:
    """Capture one form's rows with ``loop.ingest.captures_ingest`` (the bulk path, as
    ``lead_capture`` would one by one) and delete them: in the same transaction when they live
    in the main database, right after its commit when in their own SQLite file (a worker
    stopped in between leaves them to be captured again, which changes nothing: see the
    module's docstring). A row the bulk path answers with an error is marked failed.
    (captured, failed)."""
    apart = queue_alias() != DEFAULT_DB_ALIAS
    try:
        with transaction.atomic():
            results = captures_ingest(
                captures=[
                    submission_inputs(form=form, payload=row.payload, at=row.received_at)
                    for row in rows
                ],
                rule=submission_rule(form),
            )
            done = [row.pk for row, r in zip(rows, results, strict=True) if r.status != "error"]
            if not apart:
                FormSubmission.objects.filter(pk__in=done).delete()
        if apart:
            FormSubmission.objects.filter(pk__in=done).delete()
    except DatabaseError:
        raise  # the database went away: the rows are claimed again after their lease
    except Exception as exc:  # a bug must not hold up the other forms' rows
        log.exception("capturing form submissions %s failed", [row.pk for row in rows])
        for row in rows:
            _fail(row.pk, f"Unexpected error ({type(exc).__name__}: {exc}); see the worker's log.")
        return 0, len(rows)
    for row, result in zip(rows, results, strict=True):
        if result.status == "error":
            _fail(row.pk, " ".join(e.msg for e in result.errors) or "The capture failed.")
    return len(done), len(rows) - len(done)


def _claim(n: int) -> list[int]:
    """Claim up to `n` pending rows, oldest first, that no worker holds (never claimed, or its
    lease ended); one of those a worker was stopped on MAX_ATTEMPTS times is marked failed
    instead. Reads only the rows it returns or fails (a backlog of thousands costs nothing)."""
    now = timezone.now()
    with transaction.atomic(using=queue_alias()):
        rows = list(
            FormSubmission.objects.filter(status=SubmissionStatus.PENDING)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", "attempts")[:n]
        )
        spent = [pk for pk, attempts in rows if attempts >= MAX_ATTEMPTS]
        ids = [pk for pk, attempts in rows if attempts < MAX_ATTEMPTS]
        if spent:
            FormSubmission.objects.filter(pk__in=spent).update(
                status=SubmissionStatus.FAILED,
                claimed_until=None,
                error=f"Capturing this submission was interrupted {MAX_ATTEMPTS} times (the "
                "worker stopped mid-way); see the worker's log, then retry it.",
            )
        if ids:
            FormSubmission.objects.filter(pk__in=ids).update(
                claimed_until=now + LEASE, attempts=F("attempts") + 1
            )
    return ids if ids or not spent else _claim(n)


def _fail(pk: int, error: str) -> None:
    FormSubmission.objects.filter(pk=pk).update(
        status=SubmissionStatus.FAILED, claimed_until=None, error=error
    )


def submission_retry(*, actor: User, submission_id: int) -> None:
    """Put a failed submission back in the queue and ask for a capture task."""
    _row_for_editor(actor, submission_id)
    FormSubmission.objects.filter(pk=submission_id).update(
        status=SubmissionStatus.PENDING, claimed_until=None, attempts=0, error=""
    )
    transaction.on_commit(_kick_now, using=queue_alias())


def submissions_retry(*, actor: User, form_id: int) -> int:
    """Put every failed submission of a form back in the queue (one task asked for); how many."""
    if not can_edit_forms(actor):
        raise PermissionDenied("Only marketing ops and admins manage form submissions.")
    retried = FormSubmission.objects.filter(form_id=form_id, status=SubmissionStatus.FAILED).update(
        status=SubmissionStatus.PENDING, claimed_until=None, attempts=0, error=""
    )
    if retried:
        transaction.on_commit(_kick_now, using=queue_alias())
    return retried


def submission_discard(*, actor: User, submission_id: int) -> None:
    """Delete a failed submission, logging who did it."""
    row = _row_for_editor(actor, submission_id)
    row.delete()
    log.info(
        "form submission %s of form %s (received %s) discarded by %s: %s",
        submission_id,
        row.form_id,
        row.received_at.isoformat(),
        actor.email,
        row.error,
    )


def _row_for_editor(actor: User, submission_id: int) -> FormSubmission:
    if not can_edit_forms(actor):
        raise PermissionDenied("Only marketing ops and admins manage form submissions.")
    row = FormSubmission.objects.filter(pk=submission_id).first()
    if row is None:
        raise NotFound(f"No form submission {submission_id}; it may have been captured.")
    if row.status != SubmissionStatus.FAILED:
        raise NotFound(f"Form submission {submission_id} is being captured, not failed.")
    return row


def _kick_now() -> None:
    submissions_kick_reset()
    submissions_kick()


def submissions_waiting(*, form_ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
    """(pending, failed) submissions of each form that has any."""
    rows = FormSubmission.objects.all()
    if form_ids is not None:
        rows = rows.filter(form_id__in=form_ids)
    counts: dict[int, tuple[int, int]] = {}
    for form_id, status, n in (
        rows.order_by().values_list("form_id", "status").annotate(n=Count("id"))
    ):
        pending, failed = counts.get(form_id, (0, 0))
        counts[form_id] = (
            (pending + n, failed) if status == SubmissionStatus.PENDING else (pending, failed + n)
        )
    return counts


def submissions_failed(*, form_id: int) -> QuerySet[FormSubmission]:
    """The failed submissions of a form, oldest first (a query: a page reads only its rows)."""
    return FormSubmission.objects.filter(form_id=form_id, status=SubmissionStatus.FAILED).order_by(
        "pk"
    )

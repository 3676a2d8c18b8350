"""Public submissions are stored at once and captured by a worker: the same lead and touch as a
capture in the request, once, even when a worker stops mid-way; what cannot be captured waits,
with its error, for marketing ops."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from leadloop.accounts.models import Role
from leadloop.capture.models import Channel, FormSubmission, SubmissionStatus, Touch
from leadloop.common.database import queue_alias
from leadloop.common.errors import NotFound, PermissionDenied
from leadloop.leads.models import Lead
from leadloop.loop import intake
from leadloop.loop.forms import (
    SubmissionInvalid,
    submission_check,
    submission_inputs,
    submission_rule,
)
from leadloop.loop.intake import (
    MAX_ATTEMPTS,
    submission_discard,
    submission_receive,
    submission_retry,
    submissions_capture,
    submissions_kick,
    submissions_waiting,
)
from leadloop.loop.services import lead_capture
from leadloop.loop.tasks import capture_submissions
from tests.accounts.factories import UserFactory
from tests.capture.factories import CampaignFactory
from tests.capture.form_factories import FormFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

PAGE = "https://www.acme.test/pricing?utm_source=linkedin&utm_medium=paid_social&utm_campaign=q2"
VALUES = {
    "email": " Ada@Analytical.example ",
    "first_name": "Ada",
    "company": "Analytical Engines",
    "team_size": "11-50",
    "consent": "on",
}


def _lead_and_touch() -> tuple[tuple[object, ...], tuple[object, ...]]:
    lead = Lead.objects.select_related("company").get()
    touch = Touch.objects.select_related("campaign").get()
    return (
        lead.email,
        lead.first_name,
        lead.company.name if lead.company else None,
        lead.attributes,
        lead.consent_text,
        lead.source,
        lead.stage,
    ), (
        touch.kind,
        touch.source,
        touch.medium,
        touch.utm_campaign,
        touch.campaign.slug if touch.campaign else None,
        touch.landing_page,
        touch.referrer,
        touch.properties,
        touch.external_id.rsplit(":", 1)[0],
    )


def test_a_received_submission_is_stored_then_captured_as_the_request_would_have(
    django_capture_on_commit_callbacks,
):
    CampaignFactory(slug="q2", channel=Channel.PAID_SOCIAL)
    form = FormFactory(slug="demo", consent_text="ACME may e-mail me.", consent_required=True)

    with django_capture_on_commit_callbacks(execute=False, using=queue_alias()) as kicks:
        done = submission_receive(
            form=form, values=VALUES, page_url=PAGE, referrer="https://www.linkedin.com/"
        )

    row = FormSubmission.objects.get()
    assert (done.redirect, done.message) == ("", "Thanks, we will be in touch within a day.")
    assert (row.status, row.attempts, Lead.objects.count()) == (SubmissionStatus.PENDING, 0, 0)
    assert len(kicks) == 1  # a capture task is asked for once the row is committed
    assert row.payload["lead"]["email"] == "ada@analytical.example"

    assert submissions_capture() == intake.CaptureRun(captured=1, failed=0)
    assert FormSubmission.objects.count() == 0  # captured: it lives on as the lead and touch
    queued = _lead_and_touch()
    lead = Lead.objects.get()
    assert lead.consent_at == row.received_at
    assert Touch.objects.get().occurred_at == row.received_at

    Lead.objects.all().delete()  # the same payload, captured by lead_capture in one call
    data, touch = submission_inputs(form=form, payload=row.payload, at=row.received_at)
    lead_capture(data=data, touch=touch, rule=submission_rule(form))
    assert _lead_and_touch() == queued


def test_wrong_values_are_answered_at_once_and_a_bot_stores_nothing():
    form = FormFactory(slug="demo")

    with pytest.raises(SubmissionInvalid) as caught:
        submission_receive(form=form, values={"email": "ada@", "first_name": "x" * 101})
    submission_receive(form=form, values={**VALUES, "website": "http://spam.example"})

    assert caught.value.errors == {
        "email": "'ada@' is not an e-mail address.",
        "first_name": "“First name” is longer than 100 characters.",
    }
    assert FormSubmission.objects.count() == 0


def test_the_same_values_twice_within_a_minute_are_one_touch():
    form = FormFactory(slug="demo")
    submission_receive(form=form, values=VALUES)
    submission_receive(form=form, values=VALUES)

    assert submissions_capture().captured == 2
    assert (Lead.objects.count(), Touch.objects.count()) == (1, 1)


def test_a_worker_that_stopped_mid_way_leaves_its_rows_to_the_next_after_the_lease():
    form = FormFactory(slug="demo")
    for i in range(3):
        submission_receive(form=form, values={**VALUES, "email": f"p{i}@a.example"})
    claimed = intake._claim(2)  # a worker claimed two rows, then was killed

    assert submissions_capture() == intake.CaptureRun(captured=1, failed=0)  # the third only
    assert FormSubmission.objects.filter(pk__in=claimed).count() == 2
    FormSubmission.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert submissions_capture().captured == 2
    assert sorted(Lead.objects.values_list("email", flat=True)) == [
        "p0@a.example",
        "p1@a.example",
        "p2@a.example",
    ]
    assert Touch.objects.count() == 3


def test_capturing_a_row_again_after_its_capture_committed_adds_no_touch():
    form = FormFactory(slug="demo")
    submission_receive(form=form, values=VALUES)
    row = FormSubmission.objects.get()
    again = FormSubmission.objects.create(
        form=form, received_at=row.received_at, payload=row.payload
    )

    assert submissions_capture().captured == 2
    assert FormSubmission.objects.filter(pk=again.pk).exists() is False
    assert (Lead.objects.count(), Touch.objects.count()) == (1, 1)


def test_a_row_interrupted_too_often_is_marked_failed_for_someone_to_look_at():
    form = FormFactory(slug="demo")
    submission_receive(form=form, values=VALUES)
    FormSubmission.objects.update(
        attempts=MAX_ATTEMPTS, claimed_until=timezone.now() - timedelta(seconds=1)
    )

    assert submissions_capture() == intake.CaptureRun()
    row = FormSubmission.objects.get()
    assert row.status == SubmissionStatus.FAILED
    assert row.error.startswith(f"Capturing this submission was interrupted {MAX_ATTEMPTS} times")


def test_a_claim_fails_the_spent_rows_it_meets_and_claims_the_others():
    form = FormFactory(slug="demo")
    for i in range(3):
        submission_receive(form=form, values={**VALUES, "email": f"p{i}@analytical.example"})
    spent, *fresh = FormSubmission.objects.order_by("pk")
    FormSubmission.objects.filter(pk=spent.pk).update(attempts=MAX_ATTEMPTS)

    assert intake._claim(2) == [fresh[0].pk]  # of the two oldest, one was spent
    assert FormSubmission.objects.get(pk=spent.pk).status == SubmissionStatus.FAILED
    assert intake._claim(2) == [fresh[1].pk]
    assert intake._claim(2) == []  # the others are held under their lease


def _conflicting_row(slug: str = "demo", email: str = "ada@analytical.example") -> FormSubmission:
    """A stored submission whose e-mail is one lead's and external id another's."""
    form = FormFactory(slug=slug)
    LeadFactory(email=email, external_id=None)
    LeadFactory(email=f"other-{slug}@x.example", external_id=f"crm-{slug}")
    payload = submission_check(form=form, values={**VALUES, "email": email}, at=timezone.now())
    assert payload is not None
    payload["lead"]["external_id"] = f"crm-{slug}"
    return FormSubmission.objects.create(form=form, received_at=timezone.now(), payload=payload)


def test_a_row_that_cannot_be_captured_fails_with_its_error_and_does_not_block_the_others():
    row = _conflicting_row()
    submission_receive(form=row.form, values={**VALUES, "email": "bob@b.example"})

    assert submissions_capture() == intake.CaptureRun(captured=1, failed=1)
    row.refresh_from_db()
    assert row.status == SubmissionStatus.FAILED
    assert row.error == (
        "The e-mail 'ada@analytical.example' belongs to lead "
        f"{Lead.objects.get(email='ada@analytical.example').pk} but the external id 'crm-demo' "
        f"to lead {Lead.objects.get(external_id='crm-demo').pk}: merge the two leads first."
    )
    assert submissions_waiting() == {row.form_id: (0, 1)}
    assert submissions_capture() == intake.CaptureRun()  # a failed row is not tried again


def test_an_unexpected_error_fails_that_forms_rows_only(monkeypatch):
    demo, other = FormFactory(slug="demo"), FormFactory(slug="other")
    submission_receive(form=demo, values=VALUES)
    submission_receive(form=other, values={**VALUES, "email": "bob@b.example"})
    real = intake.captures_ingest

    def broken_for_demo(*, captures, rule):
        if rule == "form demo":
            raise KeyError("lead")
        return real(captures=captures, rule=rule)

    monkeypatch.setattr(intake, "captures_ingest", broken_for_demo)

    assert submissions_capture() == intake.CaptureRun(captured=1, failed=1)
    row = FormSubmission.objects.get()
    assert (row.form, row.status) == (demo, SubmissionStatus.FAILED)
    assert row.error == "Unexpected error (KeyError: 'lead'); see the worker's log."
    assert Lead.objects.get().email == "bob@b.example"


def test_marketing_ops_retries_a_failed_row_once_fixed_or_discards_it(
    django_capture_on_commit_callbacks,
):
    row = _conflicting_row()
    submissions_capture()
    mara = UserFactory(role=Role.MARKETING_OPS)

    with pytest.raises(PermissionDenied):
        submission_retry(actor=UserFactory(role=Role.SALES_REP), submission_id=row.pk)
    Lead.objects.filter(external_id="crm-demo").update(external_id="crm-old")  # resolved
    with django_capture_on_commit_callbacks(execute=False, using=queue_alias()) as kicks:
        submission_retry(actor=mara, submission_id=row.pk)

    assert len(kicks) == 1
    assert FormSubmission.objects.get().status == SubmissionStatus.PENDING
    assert submissions_capture().captured == 1
    assert Lead.objects.get(email="ada@analytical.example").external_id == "crm-demo"

    failed = _conflicting_row("other", "eve@e.example")
    submissions_capture()
    with pytest.raises(NotFound):
        submission_discard(actor=mara, submission_id=failed.pk + 1000)
    submission_discard(actor=mara, submission_id=failed.pk)
    assert FormSubmission.objects.count() == 0


def test_a_pending_row_cannot_be_retried_or_discarded():
    form = FormFactory(slug="demo")
    submission_receive(form=form, values=VALUES)
    row = FormSubmission.objects.get()

    with pytest.raises(NotFound, match="is being captured"):
        submission_discard(actor=UserFactory(role=Role.ADMIN), submission_id=row.pk)


def test_a_burst_asks_for_one_deferred_task_per_process_per_second(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(intake.time, "monotonic", lambda: clock[0])

    asked = [submissions_kick(), submissions_kick()]
    clock[0] += intake.KICK_SECONDS
    asked.append(submissions_kick())

    assert asked == [True, False, True]
    tasks = list(DBTaskResult.objects.filter(task_path=capture_submissions.module_path))
    assert len(tasks) == 2
    assert all(t.run_after is not None and t.run_after > t.enqueued_at for t in tasks)


def test_the_capture_task_captures_what_waits(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    form = FormFactory(slug="demo")
    submission_receive(form=form, values=VALUES)

    result = capture_submissions.enqueue()

    assert result.return_value == 1
    assert Lead.objects.filter(email="ada@analytical.example").exists()

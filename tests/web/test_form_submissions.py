"""Form submissions that wait to be captured or could not be: the counts on the forms list, the
failed page of a form with each error, Retry, Discard and Retry all (marketing ops and admins
only). A screenshot of the failed page goes to artifacts/screenshots/form-submissions-*.png."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from leadloop.accounts.models import Role
from leadloop.capture.models import Form, FormSubmission, SubmissionStatus
from leadloop.common.database import queue_alias
from leadloop.leads.models import Lead
from leadloop.loop.forms import submission_check
from leadloop.loop.intake import submission_receive, submissions_capture
from tests.accounts.factories import UserFactory
from tests.capture.form_factories import FormFactory
from tests.leads.factories import LeadFactory
from tests.web.conftest import SHOTS
from tests.web.helpers import figure, row, table_rows, text

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
VALUES = {"email": "ada@analytical.example", "first_name": "Ada", "company": "Analytical Engines"}


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()  # the public endpoint's rate-limit counters


@pytest.fixture
def mara(client: Client) -> Client:
    client.force_login(UserFactory(username="mara", role=Role.MARKETING_OPS))
    return client


def _conflicting_row(form: Form, email: str, crm_id: str) -> FormSubmission:
    """A stored submission of `form` whose e-mail is one lead's and external id another's."""
    LeadFactory(email=email, external_id=None)
    LeadFactory(email=f"other-{crm_id}@x.example", external_id=crm_id)
    payload = submission_check(form=form, values={**VALUES, "email": email}, at=timezone.now())
    assert payload is not None
    payload["lead"]["external_id"] = crm_id
    return FormSubmission.objects.create(form=form, received_at=timezone.now(), payload=payload)


def _failed(form: Form, *emails: str) -> list[FormSubmission]:
    """One failed submission of `form` per e-mail, as the worker leaves them."""
    rows = [_conflicting_row(form, email, f"crm-{form.slug}-{i}") for i, email in enumerate(emails)]
    assert submissions_capture().failed == len(rows)
    for r in rows:
        r.refresh_from_db()
        assert r.status == SubmissionStatus.FAILED
    return rows


def _pending(client: Client, form: Form, *emails: str) -> None:
    for email in emails:
        assert client.post(f"/f/{form.slug}", {**VALUES, "email": email}).status_code == 200


def _page(form: Form) -> str:
    return f"/forms/{form.pk}/submissions/"


# --- The forms list ----------------------------------------------------------------------------


def test_the_forms_list_shows_what_waits_and_links_what_failed(mara):
    demo = FormFactory(slug="demo", name="Demo request")
    FormFactory(slug="quiet", name="Quiet form")
    _failed(demo, "ada@analytical.example")
    _pending(mara, demo, "bob@b.example", "cy@c.example")

    response = mara.get("/forms/")

    assert row(response, "forms", "form", "demo")[-1] == "2 waiting · 1 failed"
    assert row(response, "forms", "form", "quiet")[-1] == "—"
    assert figure(response, "waiting-demo") == "2 waiting"
    assert figure(response, "failed-demo") == "1 failed"
    assert f'href="{_page(demo)}"' in text(response)


def test_a_form_with_only_failed_submissions_shows_them_alone(mara):
    demo = FormFactory(slug="demo")
    _failed(demo, "ada@analytical.example", "eve@e.example")

    response = mara.get("/forms/")

    assert row(response, "forms", "form", "demo")[-1] == "2 failed"


# --- The failed page ---------------------------------------------------------------------------


def test_the_failed_page_shows_each_submission_with_its_error_in_full(mara, time_machine):
    time_machine.move_to(datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC), tick=False)
    demo = FormFactory(slug="demo", name="Demo request")
    (failed,) = _failed(demo, "ada@analytical.example")
    _pending(mara, demo, "bob@b.example")

    response = mara.get(_page(demo))

    ada = Lead.objects.get(email="ada@analytical.example").pk
    crm = Lead.objects.get(external_id="crm-demo-0").pk
    error = (
        f"The e-mail 'ada@analytical.example' belongs to lead {ada} but the external id "
        f"'crm-demo-0' to lead {crm}: merge the two leads first."
    )
    assert failed.error == error
    cells = row(response, "submissions", "submission", str(failed.pk))
    # Received in the viewer's zone (Europe/Berlin), the e-mail, the whole error, attempts.
    assert cells[:4] == ["2 Mar 2026, 10:15", "ada@analytical.example", error, "1"]
    assert cells[4] == (
        "Retry the submission of ada@analytical.example "
        "Discard the submission of ada@analytical.example"
    )
    assert figure(response, "failed") == "1 failed"
    assert figure(response, "waiting") == "1 waiting to be captured"
    page = text(response)
    assert 'title="2 Mar 2026, 10:15:30 (' in page
    assert "Retry all" in page
    assert 'href="/forms/"' in page  # back to the list
    assert 'name="csrfmiddlewaretoken"' in page


def test_a_form_without_failures_says_nothing_failed(mara):
    demo = FormFactory(slug="demo", name="Demo request")
    _pending(mara, demo, "bob@b.example")

    response = mara.get(_page(demo))

    page = " ".join(text(response).split())
    assert response.status_code == 200
    assert "Nothing failed" in page
    assert (
        "No submission of “Demo request” failed to be captured. 1 is waiting to be captured" in page
    )
    assert "Retry all" not in page
    assert 'data-table="submissions"' not in page


def test_the_failed_page_lists_only_the_failures_of_its_form(mara):
    demo, other = FormFactory(slug="demo"), FormFactory(slug="other")
    (mine,) = _failed(demo, "ada@analytical.example")
    _failed(other, "eve@e.example")

    response = mara.get(_page(demo))

    assert [cells[1] for cells in table_rows(response, "submissions")] == ["ada@analytical.example"]
    assert f'data-submission="{mine.pk}"' in text(response)


def test_the_failed_page_reads_one_page_of_rows(mara):
    demo = FormFactory(slug="demo")
    _failed(demo, *(f"p{i}@a.example" for i in range(55)))

    with CaptureQueriesContext(connections[queue_alias()]) as queries:
        response = mara.get(_page(demo) + "?page=2")

    shown = [cells[1] for cells in table_rows(response, "submissions")]
    assert shown == [f"p{i}@a.example" for i in range(50, 55)]
    reads = [
        q["sql"] for q in queries if "capture_formsubmission" in q["sql"] and "LIMIT" in q["sql"]
    ]
    assert len(reads) == 1, queries.captured_queries


# --- Retry, Discard, Retry all -----------------------------------------------------------------


def test_retrying_puts_the_submission_back_in_the_queue_to_be_captured_once_fixed(
    mara, django_capture_on_commit_callbacks
):
    demo = FormFactory(slug="demo")
    (failed,) = _failed(demo, "ada@analytical.example")
    Lead.objects.filter(external_id="crm-demo-0").update(external_id="crm-old")  # merged

    with django_capture_on_commit_callbacks(execute=False, using=queue_alias()) as kicks:
        response = mara.post(f"{_page(demo)}{failed.pk}/retry/")

    assert response.status_code == 302
    assert response["Location"] == _page(demo)
    assert len(kicks) == 1  # a capture task is asked for
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.error) == (SubmissionStatus.PENDING, 0, "")
    assert "The submission is back in the queue" in text(mara.get(response["Location"]))
    assert submissions_capture().captured == 1
    assert FormSubmission.objects.count() == 0
    assert Lead.objects.get(email="ada@analytical.example").external_id == "crm-demo-0"


def test_retrying_with_htmx_answers_the_rows_outcome_and_the_new_counts(mara):
    demo = FormFactory(slug="demo")
    first, second = _failed(demo, "ada@analytical.example", "eve@e.example")

    response = mara.post(f"{_page(demo)}{first.pk}/retry/", headers={"HX-Request": "true"})

    page = text(response)
    assert response.status_code == 200
    assert f'data-outcome="{first.pk}"' in page
    assert "Back in the queue: captured in a moment." in page
    assert 'id="submission-counts" aria-live="polite" hx-swap-oob="true"' in page
    assert figure(response, "failed") == "1 failed"
    assert figure(response, "waiting") == "1 waiting to be captured"
    second.refresh_from_db()
    assert second.status == SubmissionStatus.FAILED


def test_a_submission_already_handled_says_so_in_its_row_with_htmx(mara):
    demo = FormFactory(slug="demo")
    (failed,) = _failed(demo, "ada@analytical.example")
    mara.post(f"{_page(demo)}{failed.pk}/retry/")

    response = mara.post(f"{_page(demo)}{failed.pk}/discard/", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert f"Form submission {failed.pk} is being captured, not failed." in text(response)
    assert FormSubmission.objects.get().status == SubmissionStatus.PENDING


def test_discarding_deletes_the_submission_and_nothing_else(mara):
    demo = FormFactory(slug="demo")
    first, second = _failed(demo, "ada@analytical.example", "eve@e.example")

    response = mara.post(f"{_page(demo)}{first.pk}/discard/")

    assert response.status_code == 302
    assert response["Location"] == _page(demo)
    assert list(FormSubmission.objects.values_list("pk", flat=True)) == [second.pk]
    assert Lead.objects.filter(email="ada@analytical.example").count() == 1  # no lead made
    page = text(mara.get(_page(demo)))
    assert "The submission is discarded: no lead was made from it." in page
    assert f'data-submission="{first.pk}"' not in page


def test_retry_all_puts_every_failure_of_the_form_back_and_nothing_else(
    mara, django_capture_on_commit_callbacks
):
    demo, other = FormFactory(slug="demo"), FormFactory(slug="other")
    _failed(demo, "ada@analytical.example", "eve@e.example")
    (elsewhere,) = _failed(other, "zed@z.example")

    with django_capture_on_commit_callbacks(execute=False, using=queue_alias()) as kicks:
        response = mara.post(f"{_page(demo)}retry/")

    assert response.status_code == 302
    assert response["Location"] == _page(demo)
    assert kicks
    assert sorted(FormSubmission.objects.filter(form=demo).values_list("status", flat=True)) == [
        SubmissionStatus.PENDING,
        SubmissionStatus.PENDING,
    ]
    elsewhere.refresh_from_db()
    assert elsewhere.status == SubmissionStatus.FAILED
    page = text(mara.get(_page(demo)))
    assert "2 submissions are back in the queue" in page
    assert "Nothing failed" in page


def test_retry_all_with_nothing_failed_says_so(mara):
    demo = FormFactory(slug="demo")

    response = mara.post(f"{_page(demo)}retry/", follow=True)

    assert "Nothing to retry: no submission of this form has failed." in text(response)


# --- Who and what ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER])
def test_sales_cannot_see_or_handle_failed_submissions(client, role):
    demo = FormFactory(slug="demo")
    (failed,) = _failed(demo, "ada@analytical.example")
    client.force_login(UserFactory(role=role))

    answers = [
        client.get(_page(demo)).status_code,
        client.post(f"{_page(demo)}{failed.pk}/retry/").status_code,
        client.post(f"{_page(demo)}{failed.pk}/discard/").status_code,
        client.post(f"{_page(demo)}retry/").status_code,
    ]

    assert answers == [403, 403, 403, 403]
    failed.refresh_from_db()
    assert failed.status == SubmissionStatus.FAILED


def test_an_admin_may_handle_failed_submissions(client):
    demo = FormFactory(slug="demo")
    (failed,) = _failed(demo, "ada@analytical.example")
    client.force_login(UserFactory(role=Role.ADMIN))

    assert client.get(_page(demo)).status_code == 200
    assert client.post(f"{_page(demo)}{failed.pk}/discard/").status_code == 302
    assert FormSubmission.objects.count() == 0


def test_an_unknown_form_or_submission_is_not_found(mara):
    demo = FormFactory(slug="demo")
    (failed,) = _failed(demo, "ada@analytical.example")
    missing = FormSubmission.objects.order_by("-pk").first().pk + 1000
    _pending(mara, demo, "bob@b.example")
    pending = FormSubmission.objects.get(status=SubmissionStatus.PENDING)

    answers = [
        mara.get(f"/forms/{demo.pk + 1000}/submissions/").status_code,
        mara.post(f"/forms/{demo.pk + 1000}/submissions/retry/").status_code,
        mara.post(f"/forms/{demo.pk + 1000}/submissions/{failed.pk}/retry/").status_code,
        mara.post(f"{_page(demo)}{missing}/retry/").status_code,
        mara.post(f"{_page(demo)}{missing}/discard/").status_code,
        mara.post(f"{_page(demo)}{pending.pk}/discard/").status_code,  # not failed
        mara.get(f"{_page(demo)}{failed.pk}/retry/").status_code,  # POST only
    ]

    assert answers == [404, 404, 404, 404, 404, 404, 405]
    assert FormSubmission.objects.count() == 2
    failed.refresh_from_db()
    assert failed.status == SubmissionStatus.FAILED


# --- In a real browser -------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_screenshot_of_the_failed_page_retry_and_discard_in_place(browser, live_server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    UserFactory(username="mara", first_name="Mara", last_name="Marketing", role=Role.MARKETING_OPS)
    demo = FormFactory(slug="demo", name="Demo request")
    FormFactory(slug="webinar", name="Webinar sign-up")
    first, second, _ = _failed(
        demo, "ada@analytical.example", "grace@hopper.example", "linus@kernel.example"
    )
    submission_receive(form=demo, values={**VALUES, "email": "bob@b.example"})
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("mara")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/forms/")
    page.screenshot(path=str(SHOTS / "form-submissions-list.png"), full_page=True)
    assert page.locator('[data-form="demo"] td').last.inner_text() == "1 waiting · 3 failed"
    page.get_by_role("link", name="3 failed").click()
    page.wait_for_url(f"{live_server.url}{_page(demo)}")
    page.screenshot(path=str(SHOTS / "form-submissions-failed.png"), full_page=True)
    page.get_by_role("button", name="Retry the submission of ada@analytical.example").click()
    page.get_by_text("Back in the queue: captured in a moment.").wait_for()
    page.get_by_role("button", name="Discard the submission of grace@hopper.example").click()
    page.get_by_text("Discarded.", exact=True).wait_for()
    assert page.locator("#submission-counts").inner_text() == "1 failed · 2 waiting to be captured"
    page.screenshot(path=str(SHOTS / "form-submissions-handled.png"), full_page=True)

    page.get_by_role("button", name="Retry all").click()
    page.get_by_text("1 submission is back in the queue").wait_for()
    page.get_by_text("Nothing failed").wait_for()
    page.screenshot(path=str(SHOTS / "form-submissions-empty.png"), full_page=True)
    assert errors == []
    first.refresh_from_db()
    assert first.status == SubmissionStatus.PENDING
    assert not FormSubmission.objects.filter(pk=second.pk).exists()
    assert FormSubmission.objects.filter(status=SubmissionStatus.PENDING).count() == 3
    page.close()

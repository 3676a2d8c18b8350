"""What one capture costs the database: the statements of ``lead_capture`` and of a public form
submission, pinned, so a query that creeps into the hot path shows up here.

Every statement counts, BEGIN/COMMIT and savepoints included (inside a test's transaction
``lead_capture``'s own transaction is a savepoint: the same number). Scoring's statements are
left out (it is stubbed): its own tests pin them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from leadloop.capture.attribution import attribution_parse
from leadloop.capture.models import Channel, Touch, TouchKind
from leadloop.capture.services import TouchInput
from leadloop.common.database import queue_alias
from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import LeadData
from leadloop.lifecycle.models import StageChange
from leadloop.loop.owners import marketing_queue
from leadloop.loop.services import lead_capture
from leadloop.webhooks.models import WebhookEvent
from leadloop.webhooks.services import webhook_event_emit
from tests.accounts.factories import UserFactory
from tests.capture.factories import CampaignFactory, TouchFactory
from tests.capture.form_factories import FormFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)
PAGE = "https://www.acme.test/pricing?utm_source=linkedin&utm_medium=paid_social&utm_campaign=q2"


@pytest.fixture(autouse=True)
def _no_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("leadloop.loop.services.scores_capture", lambda **_: None, raising=False)


@pytest.fixture(autouse=True)
def _steady_state() -> None:
    """A running installation: the agreement in force, its marketing queue and the webhook
    endpoints are in each process's cache (common.cache), as after its first capture."""
    marketing_queue()  # makes version 1 and the queue: rows of this transaction, not cached
    marketing_queue()  # reads and caches them
    webhook_event_emit(event=WebhookEvent.STAGE_CHANGED, lead_id=None, payload={})


def _touch(at: dt.datetime = AT) -> TouchInput:
    return TouchInput(
        kind=TouchKind.FORM_FILL,
        occurred_at=at,
        attribution=attribution_parse(
            landing_page="https://acme.test/?utm_source=google&utm_medium=cpc&utm_campaign=q2"
        ),
    )


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


def test_a_new_lead_with_a_touch_takes_at_most_15_queries() -> None:
    CampaignFactory(slug="q2", name="Q2", channel=Channel.PAID_SEARCH)

    # Transaction (2), upsert savepoint (2), lead, company, its insert (+2 savepoint),
    # campaign, lead insert with its entry and source, stage change, touch insert (+2).
    # Before: 23 (the lead read back twice, an entry check, two UPDATEs, a touch look-up).
    with CaptureQueriesContext(connection) as queries:
        captured = lead_capture(
            data=LeadData(email="ada@analytical.example", company_name="Analytical"),
            touch=_touch(),
        )

    assert len(queries) <= 15, "\n".join(_statements(queries))
    assert not any(s.startswith("UPDATE") for s in _statements(queries))
    lead = Lead.objects.get()
    assert (lead.stage, lead.stage_changed_at, lead.lead_first_at) == (Stage.LEAD, AT, AT)
    assert (lead.source, lead.source_detail) == (Channel.PAID_SEARCH, "Q2")
    assert (captured.lead.source, captured.lead.stage) == (lead.source, lead.stage)
    assert StageChange.objects.get().to_stage == Stage.LEAD
    assert captured.touch_created
    assert Touch.objects.get().lead == lead


def test_a_known_lead_with_a_new_touch_takes_at_most_10_queries() -> None:
    lead_capture(data=LeadData(email="ada@analytical.example"), touch=_touch())

    # Transaction (2), upsert savepoint (2), lead, touch look-up, campaign, touch insert (+2).
    with CaptureQueriesContext(connection) as queries:
        captured = lead_capture(
            data=LeadData(email="ada@analytical.example"), touch=_touch(AT + dt.timedelta(hours=1))
        )

    assert len(queries) <= 10, "\n".join(_statements(queries))
    assert captured.touch_created
    assert Touch.objects.count() == 2


def test_a_repeat_touch_takes_at_most_6_queries() -> None:
    lead_capture(data=LeadData(email="ada@analytical.example"), touch=_touch())

    # Transaction (2), lead, upsert savepoint (2), touch look-up: no campaign, no insert.
    with CaptureQueriesContext(connection) as queries:
        captured = lead_capture(data=LeadData(email="ada@analytical.example"), touch=_touch())

    assert len(queries) <= 6, "\n".join(_statements(queries))
    assert not captured.touch_created
    assert Touch.objects.count() == 1


def test_a_new_leads_touch_recorded_before_leaves_the_lead_without_a_source() -> None:
    other = LeadFactory(email="someone@else.example")
    TouchFactory(lead=other, external_id="crm-touch-1")
    touch = TouchInput(
        kind=TouchKind.FORM_FILL,
        occurred_at=AT,
        attribution=attribution_parse(landing_page=PAGE),
        external_id="crm-touch-1",
    )

    captured = lead_capture(data=LeadData(email="ada@analytical.example"), touch=touch)

    assert not captured.touch_created
    assert captured.touch is not None
    assert captured.touch.lead_id == other.pk
    lead = Lead.objects.get(email="ada@analytical.example")
    assert (lead.source, lead.source_detail, captured.lead.source) == ("", "", "")
    assert lead.stage == Stage.LEAD


def _post(client: Client, email: str) -> int:
    body = {"fields": {"email": email, "first_name": "Ada"}, "page_url": PAGE}
    response = client.post(
        "/f/demo", json.dumps(body), content_type="application/json", HTTP_ACCEPT="application/json"
    )
    return response.status_code


def test_a_form_submission_is_one_insert_once_its_form_was_read(settings: Any) -> None:
    settings.LEADLOOP_FORM_RATE_LIMIT = None
    FormFactory(slug="demo")
    client = Client()

    # The endpoint stores the checked submission; a worker captures it (loop.intake). Before
    # the intake: 16 statements (the form, then lead_capture), and 24 before that. The INSERT
    # goes to the queue database (on SQLite a file of its own), the form is read from the main.
    with _both() as first:
        assert _post(client, "ada@analytical.example") == 200
    with _both() as second:
        assert _post(client, "bob@analytical.example") == 200

    assert [q["sql"].split()[0] for q in first] == ["SELECT", "INSERT"], first
    assert [q["sql"].split()[0] for q in second] == ["INSERT"], second
    assert "capture_formsubmission" in second[0]["sql"]


@contextmanager
def _both() -> Iterator[list[dict[str, str]]]:
    """The statements run on the main database, then on the queue one (when it is another)."""
    aliases = dict.fromkeys([DEFAULT_DB_ALIAS, queue_alias()])
    statements: list[dict[str, str]] = []
    with ExitStack() as stack:
        contexts = [stack.enter_context(CaptureQueriesContext(connections[a])) for a in aliases]
        yield statements
    for context in contexts:
        statements.extend(context.captured_queries)


def test_the_rate_limit_costs_one_increment_per_submission(settings: Any) -> None:
    settings.LEADLOOP_FORM_RATE_LIMIT = (10, 60)
    FormFactory(slug="demo")
    client = Client()
    assert _post(client, "ada@analytical.example") == 200

    with CaptureQueriesContext(connection) as queries:
        assert _post(client, "grace@analytical.example") == 200

    cache = [s for s in _statements(queries) if "leadloop_cache" in s]
    # The database cache's increment: a read, then a write (count, select, update).
    assert len(cache) <= 4, "\n".join(cache)


def test_a_signed_in_browser_posting_a_form_reads_no_session(settings: Any) -> None:
    settings.LEADLOOP_FORM_RATE_LIMIT = None
    FormFactory(slug="demo")
    client = Client()
    client.force_login(UserFactory())

    with CaptureQueriesContext(connection) as queries:
        assert _post(client, "ada@analytical.example") == 200

    touched = [s for s in _statements(queries) if "django_session" in s or "accounts_user" in s]
    assert touched == []

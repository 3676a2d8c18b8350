from __future__ import annotations

import datetime as dt
import gc
from typing import Any

import pytest
import time_machine
from ninja.testing import TestClient

from leadloop.capture.models import Channel, Touch, TouchKind
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from tests.api.conftest import BearerFactory
from tests.capture.factories import CampaignFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)
AT = "2026-05-04T09:30:00Z"


@pytest.fixture(autouse=True)
def _frozen_clock() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def _touch(**fields: Any) -> dict[str, Any]:
    return {"kind": TouchKind.PAGE_VISIT, "occurred_at": AT, **fields}


# --- POST /leads ------------------------------------------------------------------------------


def test_upserting_a_new_lead_creates_it_with_201(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post(
        "/leads",
        json={
            "email": " Ada@Analytical.example ",
            "first_name": "Ada",
            "country": "gb",
            "company_name": "Analytical Engines",
            "attributes": {"plan": "pro"},
            "consent_text": "Send me news.",
        },
        headers=bearer("leads:write"),
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["created"], body["touch"], body["touch_created"]) == (True, None, False)
    lead = Lead.objects.get()
    assert body["lead"]["id"] == lead.pk
    assert (lead.email, lead.first_name, lead.country, lead.company.name) == (
        "ada@analytical.example",
        "Ada",
        "GB",
        "Analytical Engines",
    )
    assert (lead.attributes, lead.consent_given, lead.consent_at) == ({"plan": "pro"}, True, NOW)
    assert (lead.stage, StageChange.objects.get().to_stage) == (Stage.LEAD, Stage.LEAD)


def test_upserting_a_known_lead_updates_it_with_200(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    LeadFactory(email="ada@analytical.example", title="CTO", phone="")

    response = api_client.post(
        "/leads",
        json={"email": "ADA@analytical.example", "phone": "+44 20 1234"},
        headers=bearer("leads:write"),
    )

    assert response.status_code == 200
    assert (response.json()["created"], response.json()["changed"]) == (False, ["phone"])
    lead = Lead.objects.get()
    assert (lead.title, lead.phone) == ("CTO", "+44 20 1234")


def test_a_lead_is_found_by_external_id_when_it_has_no_email(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    lead = LeadFactory(email=None, external_id="crm-42")

    response = api_client.post(
        "/leads",
        json={"external_id": "crm-42", "email": "ada@analytical.example"},
        headers=bearer("leads:write"),
    )

    assert response.status_code == 200
    lead.refresh_from_db()
    assert lead.email == "ada@analytical.example"


def test_upserting_a_lead_with_its_first_touch_records_the_touch_and_source(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post(
        "/leads",
        json={
            "email": "ada@analytical.example",
            "touch": _touch(
                kind=TouchKind.FORM_FILL,
                landing_page="https://acme.test/demo?utm_source=linkedin&utm_medium=paid_social",
            ),
        },
        headers=bearer("leads:write"),
    )

    assert response.status_code == 201
    assert response.json()["touch_created"] is True
    lead = Lead.objects.get()
    assert (lead.source, lead.lead_first_at) == (Channel.PAID_SOCIAL, dt.datetime.fromisoformat(AT))
    assert response.json()["touch"]["id"] == Touch.objects.get().pk


def test_a_lead_without_email_or_external_id_is_refused_naming_email(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post("/leads", json={"first_name": "Ada"}, headers=bearer())

    assert response.status_code == 400
    assert response.json()["detail"] == [
        {
            "loc": ["email"],
            "msg": "A lead needs an e-mail or an external id.",
            "type": "lead_identity_missing",
        }
    ]
    assert Lead.objects.count() == 0


def test_a_bad_email_is_refused_naming_the_field(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post("/leads", json={"email": "ada at example"}, headers=bearer())

    assert response.status_code == 400
    assert response.json()["detail"] == [
        {
            "loc": ["email"],
            "msg": "'ada at example' is not an e-mail address.",
            "type": "email_invalid",
        }
    ]


def test_a_country_that_is_no_iso_code_is_refused_naming_the_field(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post(
        "/leads", json={"email": "ada@analytical.example", "country": "Germany"}, headers=bearer()
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "country"
    assert Lead.objects.count() == 0


def test_upserting_a_lead_needs_the_scope_leads_write(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    denied = api_client.post(
        "/leads", json={"email": "a@b.example"}, headers=bearer("leads:read", "touches:write")
    )
    anonymous = api_client.post("/leads", json={"email": "a@b.example"})

    assert denied.status_code == 403
    assert "'leads:write'" in denied.json()["detail"][0]["msg"]
    assert anonymous.status_code == 401
    assert Lead.objects.count() == 0


# --- POST /touches ----------------------------------------------------------------------------


def test_a_touch_for_a_new_email_creates_the_lead_and_parses_utm(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    campaign = CampaignFactory(slug="q2-crm", name="Q2 CRM", channel=Channel.PAID_SEARCH)

    response = api_client.post(
        "/touches",
        json=_touch(
            email="ada@analytical.example",
            landing_page="https://acme.test/?utm_source=google&utm_medium=cpc"
            "&utm_campaign=Q2-CRM&utm_term=crm+tool&utm_content=ad-1",
            referrer="https://www.google.com/",
        ),
        headers=bearer("touches:write"),
    )

    assert response.status_code == 201
    touch = Touch.objects.get()
    assert (touch.source, touch.medium, touch.utm_campaign, touch.utm_term, touch.utm_content) == (
        "google",
        "cpc",
        "Q2-CRM",
        "crm tool",
        "ad-1",
    )
    assert (touch.channel, touch.campaign, touch.referrer) == (
        Channel.PAID_SEARCH,
        campaign,
        "https://www.google.com/",
    )
    body = response.json()
    assert (body["created"], body["lead_created"], body["lead_id"]) == (True, True, touch.lead_id)
    assert Lead.objects.get().lead_first_at == dt.datetime.fromisoformat(AT)


def test_explicit_source_and_medium_win_over_the_parsed_urls(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post(
        "/touches",
        json=_touch(
            email="ada@analytical.example",
            source="newsletter",
            medium="email",
            utm_campaign="may",
            landing_page="https://acme.test/?utm_source=google&utm_medium=cpc&utm_campaign=q2",
        ),
        headers=bearer(),
    )

    assert response.status_code == 201
    touch = Touch.objects.get()
    assert (touch.source, touch.medium, touch.utm_campaign, touch.channel) == (
        "newsletter",
        "email",
        "may",
        Channel.EMAIL,
    )


def test_a_referrer_alone_is_parsed_into_source_and_medium(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    api_client.post(
        "/touches",
        json=_touch(email="ada@analytical.example", referrer="https://www.linkedin.com/feed/"),
        headers=bearer(),
    )

    touch = Touch.objects.get()
    assert (touch.source, touch.medium, touch.channel) == ("linkedin", "social", Channel.SOCIAL)


def test_a_touch_for_a_lead_id_is_recorded_on_that_lead(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    lead = LeadFactory()

    response = api_client.post("/touches", json=_touch(lead_id=lead.pk), headers=bearer())

    assert response.status_code == 201
    assert (response.json()["lead_created"], Touch.objects.get().lead) == (False, lead)


def test_an_unknown_lead_id_is_404_naming_the_field(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post("/touches", json=_touch(lead_id=999), headers=bearer())

    assert response.status_code == 404
    assert response.json()["detail"][0]["loc"] == ["lead_id"]


def test_a_touch_sent_again_with_its_external_id_is_a_duplicate_with_200(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    headers = bearer()
    first = api_client.post(
        "/touches", json=_touch(email="ada@analytical.example", external_id="t-1"), headers=headers
    )

    again = api_client.post(
        "/touches", json=_touch(email="ada@analytical.example", external_id="t-1"), headers=headers
    )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created"] is False
    assert again.json()["touch"]["id"] == first.json()["touch"]["id"]
    assert Touch.objects.count() == 1


def test_a_touch_in_the_future_is_refused_naming_occurred_at(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post(
        "/touches",
        json=_touch(email="ada@analytical.example", occurred_at="2026-05-04T12:06:00Z"),
        headers=bearer(),
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "occurred_at"
    assert error["type"] == "touch_invalid"
    assert error["msg"].startswith("occurred_at '2026-05-04T12:06:00+00:00' is in the future")
    assert Lead.objects.count() == 0


def test_a_touch_a_little_ahead_of_the_clock_is_accepted(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post(
        "/touches",
        json=_touch(email="ada@analytical.example", occurred_at="2026-05-04T12:04:00Z"),
        headers=bearer(),
    )

    assert response.status_code == 201


def test_a_touch_with_a_naive_time_is_refused_naming_occurred_at(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post(
        "/touches",
        json=_touch(email="ada@analytical.example", occurred_at="2026-05-04T09:30:00"),
        headers=bearer(),
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "occurred_at"
    assert "has no time zone" in error["msg"]


def test_a_touch_without_its_lead_is_refused_naming_email(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post("/touches", json=_touch(), headers=bearer())

    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["email"]


def test_recording_touches_needs_the_scope_touches_write(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    single = api_client.post(
        "/touches", json=_touch(email="a@b.example"), headers=bearer("leads:write")
    )
    batch = api_client.post(
        "/touches/batch",
        json={"items": [_touch(email="a@b.example")]},
        headers=bearer("leads:write"),
    )
    anonymous = api_client.post("/touches/batch", json={"items": []})

    assert (single.status_code, batch.status_code, anonymous.status_code) == (403, 403, 401)
    assert "'touches:write'" in batch.json()["detail"][0]["msg"]
    assert Touch.objects.count() == 0


# --- POST /touches/batch ----------------------------------------------------------------------


def test_a_batch_answers_each_item_created_duplicate_or_error(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    known = LeadFactory(email="grace@navy.example")
    items = [
        _touch(email="ada@analytical.example", external_id="t-1"),
        _touch(email="grace@navy.example", occurred_at="2026-05-04T09:30:00"),
        _touch(email="ada@analytical.example", external_id="t-1"),
        _touch(lead_id=known.pk, kind="nonsense"),
        _touch(email="not an address"),
        _touch(lead_id=known.pk, external_id="t-2"),
    ]

    response = api_client.post("/touches/batch", json={"items": items}, headers=bearer())

    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["duplicate"], body["error"]) == (2, 1, 3)
    assert [i["status"] for i in body["items"]] == [
        "created",
        "error",
        "duplicate",
        "error",
        "error",
        "created",
    ]
    ada = Lead.objects.get(email="ada@analytical.example")
    first = Touch.objects.get(external_id="t-1")
    assert body["items"][0] == {
        "index": 0,
        "status": "created",
        "touch_id": first.pk,
        "lead_id": ada.pk,
        "errors": [],
    }
    assert body["items"][2]["touch_id"] == first.pk
    assert [e["loc"] for e in body["items"][1]["errors"]] == [["items", 1, "occurred_at"]]
    assert [e["loc"] for e in body["items"][3]["errors"]] == [["items", 3, "kind"]]
    assert body["items"][4]["errors"] == [
        {
            "loc": ["items", 4, "email"],
            "msg": "'not an address' is not an e-mail address.",
            "type": "email_invalid",
        }
    ]
    assert body["items"][5]["lead_id"] == known.pk
    assert Touch.objects.count() == 2


def test_a_batch_of_more_than_1000_items_is_refused_naming_items(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    items = [_touch(email=f"p{i}@analytical.example") for i in range(1001)]

    response = api_client.post("/touches/batch", json={"items": items}, headers=bearer())

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "items"
    assert "at most 1000" in error["msg"]
    assert Lead.objects.count() == 0


def test_a_batch_item_that_is_not_an_object_is_an_error_of_its_own(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post(
        "/touches/batch",
        json={"items": ["nonsense", _touch(email="ada@analytical.example")]},
        headers=bearer(),
    )

    assert [i["status"] for i in response.json()["items"]] == ["error", "created"]
    assert response.json()["items"][0]["errors"][0]["loc"] == ["items", 0]


def test_a_batch_item_with_a_bad_kind_and_a_future_time_names_both_fields(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    item = _touch(
        email="ada@analytical.example", kind="nonsense", occurred_at="2026-05-04T12:06:00Z"
    )

    response = api_client.post("/touches/batch", json={"items": [item]}, headers=bearer())

    [answer] = response.json()["items"]
    assert [e["loc"] for e in answer["errors"]] == [
        ["items", 0, "kind"],
        ["items", 0, "occurred_at"],
    ]
    assert "is in the future" in answer["errors"][1]["msg"]
    assert Lead.objects.count() == 0


def test_blank_explicit_utm_values_in_a_batch_keep_the_parsed_ones(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    item = _touch(
        email="ada@analytical.example",
        landing_page="https://www.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=Spring",
        source="  ",
        utm_campaign=" ",
    )

    response = api_client.post("/touches/batch", json={"items": [item]}, headers=bearer())

    assert response.json()["created"] == 1
    touch = Touch.objects.get()
    assert (touch.source, touch.medium, touch.utm_campaign, touch.channel) == (
        "google",
        "cpc",
        "Spring",
        Channel.PAID_SEARCH,
    )


def test_a_batch_leaves_the_garbage_collector_running(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    items = [_touch(email=f"p{i}@analytical.example") for i in range(3)]

    response = api_client.post("/touches/batch", json={"items": items}, headers=bearer())

    assert response.json()["created"] == 3
    assert gc.isenabled()


def test_a_batch_leaves_a_disabled_garbage_collector_disabled(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    gc.disable()
    try:
        response = api_client.post(
            "/touches/batch",
            json={"items": [_touch(email="ada@analytical.example")]},
            headers=bearer(),
        )
        still_disabled = not gc.isenabled()
    finally:
        gc.enable()

    assert response.json()["created"] == 1
    assert still_disabled


# --- Idempotency-Key --------------------------------------------------------------------------


def test_a_retry_with_the_same_key_returns_the_stored_answer_and_writes_nothing(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    headers = {**bearer(), "Idempotency-Key": "b5a4-1"}
    body = {"email": "ada@analytical.example", "touch": _touch()}
    first = api_client.post("/leads", json=body, headers=headers)
    Lead.objects.update(first_name="Changed meanwhile")

    again = api_client.post("/leads", json=body, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert (Lead.objects.count(), Touch.objects.count(), StageChange.objects.count()) == (1, 1, 1)


def test_a_batch_retry_with_the_same_key_is_answered_from_the_store(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    headers = {**bearer(), "Idempotency-Key": "batch-7"}
    body = {"items": [_touch(email="ada@analytical.example"), _touch(email="bad")]}
    first = api_client.post("/touches/batch", json=body, headers=headers)
    Touch.objects.all().delete()

    again = api_client.post("/touches/batch", json=body, headers=headers)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert Touch.objects.count() == 0


def test_the_same_key_with_another_body_is_409_naming_the_header(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    headers = {**bearer(), "Idempotency-Key": "k-1"}
    api_client.post("/touches", json=_touch(email="ada@analytical.example"), headers=headers)

    response = api_client.post("/touches", json=_touch(email="grace@navy.example"), headers=headers)

    assert response.status_code == 409
    [error] = response.json()["detail"]
    assert (error["loc"], error["type"]) == (
        ["header", "Idempotency-Key"],
        "idempotency_key_reused",
    )
    assert error["msg"].startswith("The Idempotency-Key 'k-1' was already used for a different")
    assert Lead.objects.count() == 1


def test_a_refused_request_stores_nothing_so_it_can_be_corrected(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    headers = {**bearer(), "Idempotency-Key": "k-2"}
    refused = api_client.post("/leads", json={"email": "ada at example"}, headers=headers)

    corrected = api_client.post("/leads", json={"email": "ada@example.com"}, headers=headers)

    assert (refused.status_code, corrected.status_code) == (400, 201)


def test_keys_belong_to_their_token(api_client: TestClient, bearer: BearerFactory) -> None:
    one, other = bearer(), bearer()
    api_client.post(
        "/leads", json={"email": "ada@example.com"}, headers={**one, "Idempotency-Key": "k"}
    )

    response = api_client.post(
        "/leads", json={"email": "grace@example.com"}, headers={**other, "Idempotency-Key": "k"}
    )

    assert response.status_code == 201
    assert Lead.objects.count() == 2


def test_a_key_longer_than_200_characters_is_refused_naming_the_header(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.post(
        "/leads",
        json={"email": "ada@example.com"},
        headers={**bearer(), "Idempotency-Key": "k" * 201},
    )

    assert response.status_code == 400
    assert response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert Lead.objects.count() == 0

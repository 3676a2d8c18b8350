from __future__ import annotations

import datetime as dt

import pytest
from ninja.testing import TestClient

from leadloop.capture.models import TouchKind
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.services import lead_transition
from tests.accounts.factories import UserFactory
from tests.api.conftest import BearerFactory
from tests.capture.factories import CampaignFactory, TouchFactory
from tests.content.factories import ContentOfferFactory
from tests.leads.factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def headers(bearer: BearerFactory) -> dict[str, str]:
    return bearer("leads:read")


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["items"]]


# --- The list ---------------------------------------------------------------------------------


def test_leads_are_listed_newest_first_with_company_and_owner(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    rep = UserFactory(first_name="Rita", last_name="Rep", username="rita")
    older = LeadFactory(
        created_at=T0, owner=rep, company=CompanyFactory(name="Acme", domain="acme.example")
    )
    newer = LeadFactory(created_at=T0 + dt.timedelta(hours=1))

    response = api_client.get("/leads", headers=headers)

    assert _ids(response) == [newer.pk, older.pk]
    item = response.json()["items"][1]
    assert item["owner"] == {"id": rep.pk, "username": "rita", "name": "Rita Rep"}
    assert item["company"] == {"id": older.company_id, "name": "Acme", "domain": "acme.example"}
    assert item["email"] == older.email
    assert item["stage"] == "lead"
    assert item["created_at"] == "2026-03-02T10:00:00Z"


def test_filtering_by_stage(api_client: TestClient, headers: dict[str, str]) -> None:
    mql = LeadFactory(stage=Stage.MQL)
    LeadFactory(stage=Stage.LEAD)

    response = api_client.get("/leads", headers=headers, query_params={"stage": "mql"})

    assert _ids(response) == [mql.pk]


def test_filtering_by_owner(api_client: TestClient, headers: dict[str, str]) -> None:
    rep = UserFactory()
    owned = LeadFactory(owner=rep)
    LeadFactory(owner=UserFactory())
    LeadFactory(owner=None)

    response = api_client.get("/leads", headers=headers, query_params={"owner": rep.pk})

    assert _ids(response) == [owned.pk]


def test_filtering_by_source(api_client: TestClient, headers: dict[str, str]) -> None:
    webinar = LeadFactory(source="webinar")
    LeadFactory(source="organic_search")

    response = api_client.get("/leads", headers=headers, query_params={"source": "webinar"})

    assert _ids(response) == [webinar.pk]


def test_created_after_is_inclusive_and_created_before_exclusive(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    first, second, third = (LeadFactory(created_at=T0 + dt.timedelta(days=d)) for d in range(3))

    after = api_client.get(
        "/leads", headers=headers, query_params={"created_after": "2026-03-03T10:00:00Z"}
    )
    before = api_client.get(
        "/leads", headers=headers, query_params={"created_before": "2026-03-03T10:00:00Z"}
    )
    both = api_client.get(
        "/leads",
        headers=headers,
        query_params={"created_after": T0.isoformat(), "created_before": "2026-03-04T10:00:00Z"},
    )

    assert _ids(after) == [third.pk, second.pk]
    assert _ids(before) == [first.pk]
    assert _ids(both) == [second.pk, first.pk]


def test_created_range_honours_offsets_and_reads_naive_times_as_utc(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    lead = LeadFactory(created_at=T0)

    berlin = api_client.get(
        "/leads", headers=headers, query_params={"created_after": "2026-03-02T11:00:00+01:00"}
    )
    naive = api_client.get(
        "/leads", headers=headers, query_params={"created_after": "2026-03-02T10:00:01"}
    )

    assert _ids(berlin) == [lead.pk]
    assert _ids(naive) == []


def test_searching_by_name_email_or_company(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    ada = LeadFactory(first_name="Ada", last_name="Lovelace", email="ada@engines.example")
    at_initech = LeadFactory(company=CompanyFactory(name="Initech", domain="initech.example"))
    LeadFactory(first_name="Bob", last_name="Builder")

    by_name = api_client.get("/leads", headers=headers, query_params={"q": "lovelace"})
    by_email = api_client.get("/leads", headers=headers, query_params={"q": "engines.example"})
    by_company = api_client.get("/leads", headers=headers, query_params={"q": "initech"})

    assert _ids(by_name) == [ada.pk]
    assert _ids(by_email) == [ada.pk]
    assert _ids(by_company) == [at_initech.pk]


def test_filters_combine(api_client: TestClient, headers: dict[str, str]) -> None:
    rep = UserFactory()
    match = LeadFactory(owner=rep, stage=Stage.MQL, source="webinar")
    LeadFactory(owner=rep, stage=Stage.MQL, source="ads")
    LeadFactory(owner=rep, stage=Stage.LEAD, source="webinar")

    response = api_client.get(
        "/leads",
        headers=headers,
        query_params={"owner": rep.pk, "stage": "mql", "source": "webinar"},
    )

    assert _ids(response) == [match.pk]


# --- Pagination -------------------------------------------------------------------------------


def _walk(api_client: TestClient, headers: dict[str, str], **params: object) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = api_client.get("/leads", headers=headers, query_params=query)
        pages.append(_ids(response))
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


def test_pages_walk_every_lead_once_even_when_timestamps_tie(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    tied = [LeadFactory(created_at=T0) for _ in range(5)]
    others = [LeadFactory(created_at=T0 + dt.timedelta(seconds=s)) for s in (-1, 1, 2)]

    pages = _walk(api_client, headers, limit=2)

    assert [len(p) for p in pages] == [2, 2, 2, 2]
    walked = [lead_id for page in pages for lead_id in page]
    assert walked == [lead.pk for lead in Lead.objects.order_by("-created_at", "-id")]
    assert sorted(walked) == sorted(lead.pk for lead in tied + others)


def test_a_lead_inserted_while_paging_does_not_shift_later_pages(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    leads = [LeadFactory(created_at=T0 + dt.timedelta(minutes=m)) for m in range(6)]
    first = api_client.get("/leads", headers=headers, query_params={"limit": 2})
    cursor = first.json()["next_cursor"]

    LeadFactory(created_at=T0 + dt.timedelta(hours=1))  # newest: would shift an offset by one
    LeadFactory(created_at=T0 + dt.timedelta(minutes=4))  # ties with the last one seen
    second = api_client.get("/leads", headers=headers, query_params={"limit": 2, "cursor": cursor})

    assert _ids(first) == [leads[5].pk, leads[4].pk]
    assert _ids(second) == [leads[3].pk, leads[2].pk]


def test_the_last_page_has_no_next_cursor(api_client: TestClient, headers: dict[str, str]) -> None:
    LeadFactory.create_batch(2)

    response = api_client.get("/leads", headers=headers, query_params={"limit": 2})

    assert len(_ids(response)) == 2
    assert response.json()["next_cursor"] is None


def test_the_default_page_size_comes_from_the_settings(
    api_client: TestClient, headers: dict[str, str], settings
) -> None:
    settings.LEADLOOP_API_PAGE_SIZE = 3
    LeadFactory.create_batch(4)

    response = api_client.get("/leads", headers=headers)

    assert len(_ids(response)) == 3
    assert response.json()["next_cursor"] is not None


def test_pagination_keeps_the_filters(api_client: TestClient, headers: dict[str, str]) -> None:
    mqls = [LeadFactory(stage=Stage.MQL, created_at=T0) for _ in range(3)]
    LeadFactory.create_batch(3, stage=Stage.LEAD, created_at=T0)

    pages = _walk(api_client, headers, limit=2, stage="mql")

    assert sorted(i for page in pages for i in page) == sorted(lead.pk for lead in mqls)


def test_a_page_costs_the_same_few_queries_however_many_leads(
    api_client: TestClient, headers: dict[str, str], django_assert_max_num_queries
) -> None:
    for _ in range(20):
        LeadFactory(owner=UserFactory(), company=CompanyFactory())

    # The token lookup, at most one "last used" update, and the page itself.
    with django_assert_max_num_queries(3):
        response = api_client.get("/leads", headers=headers)

    assert len(_ids(response)) == 20


# --- One lead ---------------------------------------------------------------------------------


def test_the_detail_has_company_owner_consent_and_custom_attributes(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    rep = UserFactory(username="sam", first_name="Sam", last_name="Seller")
    lead = LeadFactory(
        owner=rep,
        company=CompanyFactory(name="Acme", domain="acme.example", sector="Software"),
        attributes={"plan": "pro", "seats": 40},
        consent_given=True,
        consent_text="Yes, e-mail me.",
        consent_at=T0,
    )

    response = api_client.get(f"/leads/{lead.pk}", headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == lead.pk
    assert body["company"]["sector"] == "Software"
    assert body["company"]["employee_count"] == 250
    assert body["owner"] == {"id": rep.pk, "username": "sam", "name": "Sam Seller"}
    assert body["attributes"] == {"plan": "pro", "seats": 40}
    assert body["consent"] == {
        "given": True,
        "text": "Yes, e-mail me.",
        "at": "2026-03-02T10:00:00Z",
    }
    assert body["touch_count"] == 0
    assert body["touches"] == []
    assert body["stage_history"] == []


def test_the_detail_lists_touches_newest_first_with_campaign_and_offer(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    lead = LeadFactory()
    campaign = CampaignFactory(slug="spring-launch", name="Spring launch")
    offer = ContentOfferFactory(slug="buyers-guide", name="Buyer's guide")
    visit = TouchFactory(lead=lead, occurred_at=T0)
    download = TouchFactory(
        lead=lead,
        kind=TouchKind.CONTENT_DOWNLOAD,
        channel="paid_search",
        source="google",
        medium="cpc",
        utm_campaign="spring-launch",
        utm_term="lead scoring",
        utm_content="ad-b",
        campaign=campaign,
        content_offer=offer,
        occurred_at=T0 + dt.timedelta(hours=2),
    )
    TouchFactory(occurred_at=T0)  # another lead's

    body = api_client.get(f"/leads/{lead.pk}", headers=headers).json()

    assert body["touch_count"] == 2
    assert [t["id"] for t in body["touches"]] == [download.pk, visit.pk]
    assert body["touches"][0] == {
        "id": download.pk,
        "kind": "content_download",
        "channel": "paid_search",
        "source": "google",
        "medium": "cpc",
        "utm_campaign": "spring-launch",
        "utm_term": "lead scoring",
        "utm_content": "ad-b",
        "referrer": "",
        "landing_page": "",
        "campaign": {
            "id": campaign.pk,
            "slug": "spring-launch",
            "name": "Spring launch",
            "channel": "paid_search",
        },
        "content_offer": {
            "id": offer.pk,
            "slug": "buyers-guide",
            "name": "Buyer's guide",
            "kind": "ebook",
        },
        "occurred_at": "2026-03-02T12:00:00Z",
    }


def test_the_detail_has_the_stage_history_and_stage_timestamps(
    api_client: TestClient, headers: dict[str, str], time_machine
) -> None:
    rep = UserFactory(username="rita", first_name="Rita", last_name="Rep")
    lead = LeadFactory(stage=Stage.LEAD)
    time_machine.move_to(T0, tick=False)
    lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=None, rule="fit ≥ 70")
    time_machine.move_to(T0 + dt.timedelta(hours=3), tick=False)
    lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=rep, note="Called, keen.")

    body = api_client.get(f"/leads/{lead.pk}", headers=headers).json()

    assert body["stage"] == "sal"
    assert body["stage_timestamps"]["mql_first_at"] == "2026-03-02T10:00:00Z"
    assert body["stage_timestamps"]["sal_first_at"] == "2026-03-02T13:00:00Z"
    history = body["stage_history"]
    assert [(c["from_stage"], c["to_stage"]) for c in history] == [("mql", "sal"), ("lead", "mql")]
    accepted, qualified = history
    assert accepted["actor"] == {"id": rep.pk, "username": "rita", "name": "Rita Rep"}
    assert accepted["note"] == "Called, keen."
    assert accepted["at"] == "2026-03-02T13:00:00Z"
    assert qualified["actor"] is None
    assert qualified["rule"] == "fit ≥ 70"
    assert set(qualified) == {
        "id", "from_stage", "to_stage", "actor", "rule", "reason", "note",
        "agreement_version", "cycle", "at",
    }  # fmt: skip


def test_the_detail_costs_the_same_few_queries_however_many_touches(
    api_client: TestClient, headers: dict[str, str], django_assert_max_num_queries
) -> None:
    lead = LeadFactory()
    for _ in range(10):
        TouchFactory(lead=lead, campaign=CampaignFactory(), content_offer=ContentOfferFactory())

    # Token, "last used", the lead, its touches, their count, its stage history.
    with django_assert_max_num_queries(8):  # +2: the lead's scores and score history
        response = api_client.get(f"/leads/{lead.pk}", headers=headers)

    assert len(response.json()["touches"]) == 10


def test_an_unknown_lead_is_404_in_the_error_shape(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    response = api_client.get("/leads/987654", headers=headers)

    assert response.status_code == 404
    assert response.json() == {
        "detail": [{"loc": ["lead_id"], "msg": "No lead with id 987654.", "type": "not_found"}]
    }


# --- Errors name the field --------------------------------------------------------------------


def test_an_unknown_stage_is_422_naming_stage(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    response = api_client.get("/leads", headers=headers, query_params={"stage": "bogus"})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "stage"]
    assert error["type"] == "enum"
    assert "'mql'" in error["msg"]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", "0"),
        ("limit", "501"),
        ("owner", "rita"),
        ("created_after", "last tuesday"),
        ("created_before", "2026-13-01"),
    ],
)
def test_a_bad_query_parameter_is_422_naming_it(
    api_client: TestClient, headers: dict[str, str], param: str, value: str
) -> None:
    response = api_client.get("/leads", headers=headers, query_params={param: value})

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", param]]
    assert all({"loc", "msg", "type"} <= set(e) for e in response.json()["detail"])


def test_a_lead_id_that_is_not_a_number_is_422_naming_it(
    api_client: TestClient, headers: dict[str, str]
) -> None:
    response = api_client.get("/leads/abc", headers=headers)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "lead_id"]


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", "==", "W10", "WyJ5ZXN0ZXJkYXkiLCAxXQ", "WyIyMDI2LTAzLTAyVDEwOjAwOjAwIiwgMV0"],
    ids=["garbage", "padding-only", "empty-array", "bad-time", "naive-time"],
)
def test_a_bad_cursor_is_400_naming_cursor(
    api_client: TestClient, headers: dict[str, str], cursor: str
) -> None:
    LeadFactory()

    response = api_client.get("/leads", headers=headers, query_params={"cursor": cursor})

    assert response.status_code == 400
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "cursor"]
    assert error["type"] == "cursor_invalid"
    assert "is not a cursor of this list" in error["msg"]

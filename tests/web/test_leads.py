import datetime as dt

import pytest
from django.urls import reverse
from ninja.testing import TestClient

from leadloop.accounts.models import Role, TeamKind
from leadloop.accounts.services import token_create
from leadloop.api.main import api
from leadloop.capture.models import TouchKind
from leadloop.leads.models import Stage
from leadloop.lifecycle.services import lead_transition
from leadloop.scoring.models import LeadScore
from tests.accounts.factories import TeamFactory, UserFactory
from tests.capture.factories import CampaignFactory, TouchFactory
from tests.content.factories import ContentOfferFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.web.helpers import table_rows, text

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.fixture
def rep(client):
    user = UserFactory(role=Role.SALES_REP, first_name="Rita", last_name="Rep")
    client.force_login(user)
    return user


def _names(response):
    return sorted(r[0].split(" ")[0] for r in table_rows(response, "leads"))


def test_the_lead_list_searches_name_email_and_company(client, rep):
    LeadFactory(first_name="Ada", last_name="Lovelace")
    LeadFactory(first_name="Bob", email="bob@initech.example")
    LeadFactory(first_name="Cleo", company=CompanyFactory(name="Globex Corporation"))
    LeadFactory(first_name="Dan")
    url = reverse("web:lead_list")

    assert _names(client.get(url, {"q": "lovelace"})) == ["Ada"]
    assert _names(client.get(url, {"q": "initech"})) == ["Bob"]
    assert _names(client.get(url, {"q": "globex"})) == ["Cleo"]
    assert len(_names(client.get(url))) == 4


def test_the_lead_list_filters_by_stage_source_and_owner(client, rep):
    other = UserFactory(role=Role.SALES_REP)
    LeadFactory(first_name="Mine", owner=rep, stage=Stage.MQL, source="webinar")
    LeadFactory(first_name="Theirs", owner=other, stage=Stage.MQL, source="paid_search")
    LeadFactory(first_name="Nobody", owner=None, stage=Stage.LEAD, source="webinar")
    url = reverse("web:lead_list")

    assert _names(client.get(url, {"stage": "mql"})) == ["Mine", "Theirs"]
    assert _names(client.get(url, {"source": "webinar"})) == ["Mine", "Nobody"]
    assert _names(client.get(url, {"owner": "me"})) == ["Mine"]
    assert _names(client.get(url, {"owner": "unowned"})) == ["Nobody"]
    assert _names(client.get(url, {"owner": str(other.pk)})) == ["Theirs"]
    assert _names(client.get(url, {"stage": "mql", "source": "webinar"})) == ["Mine"]


def test_the_lead_list_filters_by_whether_the_lead_qualifies(client, rep):
    LeadScore.objects.create(lead=LeadFactory(first_name="Hot"), qualifies=True)
    LeadScore.objects.create(lead=LeadFactory(first_name="Cold"), qualifies=False)
    LeadFactory(first_name="Unscored")
    url = reverse("web:lead_list")

    assert _names(client.get(url, {"qualifies": "yes"})) == ["Hot"]
    assert _names(client.get(url, {"qualifies": "no"})) == ["Cold"]
    assert len(_names(client.get(url, {"qualifies": ""}))) == 3


@pytest.mark.parametrize(("choice", "param"), [("yes", "true"), ("no", "false")])
def test_the_lead_lists_qualifies_filter_gives_the_leads_the_api_gives(client, rep, choice, param):
    LeadScore.objects.create(lead=LeadFactory(first_name="Hot"), qualifies=True)
    LeadScore.objects.create(lead=LeadFactory(first_name="Cold"), qualifies=False)
    LeadFactory(first_name="Unscored")
    token = token_create(user=rep, name="test", scopes=["leads:read"])

    page = client.get(reverse("web:lead_list"), {"qualifies": choice})
    listed = TestClient(api).get(
        "/leads",
        headers={"Authorization": f"Bearer {token.key}"},
        query_params={"qualifies": param},
    )

    assert listed.status_code == 200
    assert _names(page) == sorted(item["first_name"] for item in listed.json()["items"])
    assert _names(page) == (["Hot"] if choice == "yes" else ["Cold"])


def test_the_lead_list_filters_by_a_queue_and_offers_each_queue(client, rep):
    marketing = TeamFactory(name="Marketing", kind=TeamKind.MARKETING)
    sales = TeamFactory(name="Sales", kind=TeamKind.SALES)
    LeadFactory(first_name="Waiting", owner=None, queue=marketing)
    LeadFactory(first_name="Fallback", owner=None, queue=sales)
    LeadFactory(first_name="Routed", owner=rep, queue=sales)
    url = reverse("web:lead_list")

    assert _names(client.get(url, {"owner": f"queue:{marketing.pk}"})) == ["Waiting"]
    assert _names(client.get(url, {"owner": f"queue:{sales.pk}"})) == ["Fallback"]
    assert _names(client.get(url, {"owner": "me"})) == ["Routed"]
    page = text(client.get(url))
    assert f'<option value="queue:{marketing.pk}">Marketing queue</option>' in page


def test_created_dates_are_whole_days_in_the_viewers_time_zone(client, rep):
    # 23:30 UTC on 31 March is 1 April 01:30 in Berlin.
    LeadFactory(first_name="April", created_at=dt.datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    LeadFactory(first_name="March", created_at=dt.datetime(2026, 3, 31, 21, 0, tzinfo=UTC))
    LeadFactory(first_name="May", created_at=dt.datetime(2026, 5, 2, 9, 0, tzinfo=UTC))
    url = reverse("web:lead_list")

    assert _names(client.get(url, {"created_from": "2026-04-01"})) == ["April", "May"]
    assert _names(client.get(url, {"created_to": "2026-03-31"})) == ["March"]
    assert _names(client.get(url, {"created_from": "2026-04-01", "created_to": "2026-04-30"})) == [
        "April"
    ]


def test_an_inverted_date_range_is_explained_not_crashed_on(client, rep):
    LeadFactory()

    response = client.get(
        reverse("web:lead_list"), {"created_from": "2026-05-01", "created_to": "2026-04-01"}
    )

    assert response.status_code == 200
    assert "Must be on or after the “Created from” date." in text(response)


def test_the_lead_list_pages_by_fifty_and_shows_the_count(client, rep):
    LeadFactory.create_batch(53)

    first = client.get(reverse("web:lead_list"))
    second = client.get(reverse("web:lead_list"), {"page": 2})

    assert len(table_rows(first, "leads")) == 50
    assert "1\N{EN DASH}50 of <strong>53</strong> leads" in text(first)
    assert len(table_rows(second, "leads")) == 3
    assert "51\N{EN DASH}53 of <strong>53</strong> leads" in text(second)
    assert "Page 2 of 2" in text(second)


def test_an_htmx_request_gets_only_the_results(client, rep):
    LeadFactory(first_name="Ada", source="webinar")

    response = client.get(
        reverse("web:lead_list"), {"source": "webinar"}, headers={"HX-Request": "true"}
    )

    assert "<html" not in text(response)
    assert 'data-table="leads"' in text(response)
    assert "HX-Request" in response["Vary"]


def test_a_filter_that_matches_nothing_says_so(client, rep):
    LeadFactory(first_name="Ada")

    response = client.get(reverse("web:lead_list"), {"q": "zzzz"})

    assert "No leads match" in text(response)


def test_the_quick_search_finds_a_lead_from_any_page(client, rep):
    lead = LeadFactory(first_name="Grace", last_name="Hopper", email="grace@navy.example")

    response = client.get(reverse("web:lead_search"), {"q": "navy"})

    assert lead.get_absolute_url() in text(response)
    assert "Grace Hopper" in text(response)
    assert "No lead matches “nothing”" in text(
        client.get(reverse("web:lead_search"), {"q": "nothing"})
    )


def test_the_lead_page_shows_header_details_and_attributes(client, rep):
    company = CompanyFactory(
        name="Initech", sector="Manufacturing", employee_count=1200, country="AT"
    )
    lead = LeadFactory(
        first_name="Peter",
        last_name="Gibbons",
        title="VP Engineering",
        company=company,
        owner=rep,
        stage=Stage.SQL,
        source="webinar",
        consent_given=True,
        attributes={"tps_reports": "weekly", "stapler": "red"},
    )

    response = client.get(lead.get_absolute_url())

    page = text(response)
    for expected in (
        "Peter Gibbons",
        "VP Engineering",
        "Initech",
        "Manufacturing",
        "1,200 employees",
        "Rita Rep",
        'pill--sql">SQL',
        "Webinar",
        "Given",
        "tps_reports",
        "weekly",
        "stapler",
    ):
        assert expected in page, expected


def test_the_lead_page_merges_touches_and_stage_changes_with_who_and_why(client, rep):
    lead = LeadFactory(first_name="Joan")
    TouchFactory(
        lead=lead,
        kind=TouchKind.CONTENT_DOWNLOAD,
        content_offer=ContentOfferFactory(name="Pricing guide"),
        campaign=CampaignFactory(name="Spring webinar"),
        occurred_at=dt.datetime(2026, 3, 1, 9, tzinfo=UTC),
    )
    lead_transition(
        lead_id=lead.pk,
        to=Stage.MQL,
        actor=None,
        rule="fit A + engagement ≥ 60",
        at=dt.datetime(2026, 3, 1, 9, 5, tzinfo=UTC),
    )
    lead_transition(
        lead_id=lead.pk,
        to=Stage.NURTURE,
        actor=rep,
        reason="not_now",
        note="Budget frozen until Q3",
        at=dt.datetime(2026, 3, 2, 14, tzinfo=UTC),
    )

    response = client.get(lead.get_absolute_url())

    page = text(response)
    kinds = page.split('data-kind="')[1:]
    assert [k.split('"')[0] for k in kinds] == ["stage_change", "stage_change", "touch"]
    for expected in (
        "Content download",
        "Pricing guide",
        "Spring webinar",
        'system: <span class="strong">fit A + engagement ≥ 60',
        "Rita Rep",
        'data-reason="not_now">Not now</span>',
        "back to nurture, may re-qualify after 90 days",
        "Budget frozen until Q3",
        "2 Mar 2026, 15:00",
    ):
        assert expected in page, expected


def test_a_missing_lead_is_a_404(client, rep):
    response = client.get(reverse("web:lead_detail", args=[987654]))

    assert response.status_code == 404

"""The scoring pages: rule versions (marketing ops only), the lead page's score cards, chart."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from leadloop.accounts.models import Role
from leadloop.capture.models import TouchKind
from leadloop.leads.models import Seniority
from leadloop.scoring.models import FitRuleSet, LeadScore
from leadloop.scoring.rescore import scores_rescore
from leadloop.scoring.services import scores_touches_record
from tests.accounts.factories import UserFactory
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.scoring.factories import active_rules
from tests.web.conftest import SHOTS
from tests.web.helpers import text

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


@pytest.fixture
def ops(client):
    user = UserFactory(role=Role.MARKETING_OPS, first_name="Olga", last_name="Ops")
    client.force_login(user)
    return user


def _scored_lead():
    active_rules()
    lead = LeadFactory(
        first_name="Ada",
        last_name="Lovelace",
        seniority=Seniority.VP,
        company=CompanyFactory(name="Analytical Engines", sector="Software"),
    )
    now = dt.datetime.now(dt.UTC)
    for days, kind in ((40, TouchKind.PAGE_VISIT), (20, TouchKind.WEBINAR), (2, TouchKind.DEMO)):
        touch = TouchFactory(lead=lead, kind=kind, occurred_at=now - dt.timedelta(days=days))
        scores_touches_record(touch_ids=[touch.pk])
    return lead


def test_reps_cannot_edit_scoring_rules(client):
    client.force_login(UserFactory(role=Role.SALES_REP))

    get = client.get(reverse("web:scoring_fit"))
    post = client.post(reverse("web:scoring_engagement"), {"touch_kind": "demo", "points": "5"})

    assert (get.status_code, post.status_code) == (403, 403)


def test_saving_fit_rules_creates_a_new_active_version(
    client, ops, django_capture_on_commit_callbacks
):
    active_rules()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("web:scoring_fit"),
            {
                "attribute": ["company.sector", "lead.seniority"],
                "operator": ["in", "eq"],
                "value": ["Software, IT services", "vp"],
                "points": ["30", "20"],
                "label": ["", "a VP title"],
                "grade_a": "75",
                "grade_b": "50",
                "grade_c": "25",
                "activate": "1",
                "note": "broader sectors",
            },
        )

    active = FitRuleSet.objects.get(is_active=True)
    assert response.status_code == 302
    assert (active.version, active.created_by, active.note) == (2, ops, "broader sectors")
    assert [r.value for r in active.rules.all()] == [["Software", "IT services"], "vp"]
    page = text(client.get(reverse("web:scoring_fit")))
    assert "v2" in page
    assert "Olga Ops" in page
    assert "Rescor" in page


def test_a_bad_rule_is_explained_next_to_the_form(client, ops):
    response = client.post(
        reverse("web:scoring_fit"),
        {
            "attribute": ["lead.shoe_size"],
            "operator": ["eq"],
            "value": ["42"],
            "points": ["5"],
            "label": [""],
            "grade_a": "75",
            "grade_b": "50",
            "grade_c": "25",
        },
    )

    assert response.status_code == 200
    assert "Attribute &#x27;lead.shoe_size&#x27; is unknown" in text(response)
    assert not FitRuleSet.objects.exists()


def test_the_lead_page_shows_three_score_cards_with_reasons(client, ops):
    lead = _scored_lead()

    page = text(client.get(lead.get_absolute_url()))

    assert 'data-score="fit"' in page
    assert 'data-score="engagement"' in page
    assert "sector is Software" in page
    assert "no model yet" in page
    assert "demo request" in page
    assert "What would move it" in page
    assert 'id="score-history-data"' in page
    assert "scores.js" in page


def test_a_rare_chance_is_shown_with_its_digits_not_as_zero(client, ops):
    lead = _scored_lead()
    LeadScore.objects.filter(lead=lead).update(predicted_probability=0.0037, predicted_version=1)

    page = text(client.get(lead.get_absolute_url()))

    assert "0.37%<small>chance of becoming a customer · model v1" in page


def test_the_thresholds_line_says_what_makes_an_mql(client, ops):
    lead = _scored_lead()

    page = text(client.get(lead.get_absolute_url()))

    assert 'data-qualifies="' in page
    assert "A lead becomes an MQL when fit grade is B or better" in page


def test_the_chart_data_is_the_selectors_history(client, ops):
    lead = _scored_lead()

    response = client.get(lead.get_absolute_url())

    history = response.context["score_history"]
    assert [h["cause"] for h in history] == [
        "touch: Page visit",
        "touch: Webinar attendance",
        "touch: Demo",
    ]


@pytest.mark.browser
def test_screenshots_of_the_score_cards_and_the_rules_page(browser, live_server):
    lead = _scored_lead()
    scores_rescore(cause="fit rules v1")
    UserFactory(username="olga", role=Role.MARKETING_OPS, first_name="Olga", last_name="Ops")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}{lead.get_absolute_url()}")
    page.wait_for_function("document.getElementById('score-history-chart').width > 0")
    page.screenshot(path=str(SHOTS / "lead-scores.png"), full_page=True)
    page.goto(f"{live_server.url}/scoring/fit/")
    page.screenshot(path=str(SHOTS / "scoring-fit.png"), full_page=True)
    page.goto(f"{live_server.url}/scoring/engagement/")
    page.screenshot(path=str(SHOTS / "scoring-engagement.png"), full_page=True)

    assert LeadScore.objects.get(lead=lead).fit_grade == "B"
    assert page.get_by_role("heading", name="Engagement rules").is_visible()

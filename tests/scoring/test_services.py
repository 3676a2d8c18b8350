"""Incremental scoring through the loop's use cases, caps, signals, history, versions, merge."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadloop.capture.attribution import Attribution
from leadloop.capture.services import TouchInput
from leadloop.leads.models import Seniority
from leadloop.leads.services import LeadData
from leadloop.loop.merge import lead_merge
from leadloop.loop.services import lead_capture
from leadloop.scoring.models import (
    EngagementCapCount,
    EngagementRuleSet,
    LeadScore,
    ScoreHistory,
)
from leadloop.scoring.rescore import scores_rescore
from leadloop.scoring.selectors import lead_scores
from leadloop.scoring.services import (
    fit_ruleset_activate,
    fit_ruleset_create,
    scores_touches_record,
)
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.scoring.factories import FIT_RULES, active_rules

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW, tick=False)


def _touch(email: str, kind: str, at: dt.datetime, url: str = "", **props) -> None:
    lead_capture(
        data=LeadData(email=email),
        touch=TouchInput(
            kind=kind,
            occurred_at=at,
            attribution=Attribution(landing_page=url),
            properties=props,
        ),
    )


def _score(email: str) -> LeadScore:
    return LeadScore.objects.get(lead__email=email)


def test_a_captured_touch_scores_the_new_lead_at_once():
    active_rules()
    CompanyFactory(domain="acme.example", sector="Software")

    _touch("ann@acme.example", "webinar", NOW)

    score = _score("ann@acme.example")
    assert (score.fit_score, score.fit_grade) == (40, "C")
    assert lead_scores(lead=score.lead).engagement_score == 33  # 100·(1 - e^(-20/50))
    assert ScoreHistory.objects.get(lead=score.lead).cause == "touch: Webinar attendance"


def test_a_free_mail_lead_without_company_gets_the_negative_rule():
    active_rules()

    _touch("someone@gmail.com", "webinar", NOW)

    score = _score("someone@gmail.com")
    assert score.fit_score == 0
    assert score.fit_reasons == [{"points": -20, "text": "company domain is unknown"}]


def test_page_visits_count_at_most_three_a_day():
    active_rules()

    for minute in range(5):
        _touch(
            "cap@acme.example",
            "page_visit",
            NOW - dt.timedelta(minutes=minute),
            url=f"https://x.example/p{minute}",
        )

    score = _score("cap@acme.example")
    assert [r["count"] for r in score.engagement_reasons] == [3]
    assert EngagementCapCount.objects.get(lead=score.lead).count == 3


def test_negative_signals_lower_engagement():
    active_rules()
    _touch("neg@acme.example", "webinar", NOW - dt.timedelta(hours=2))
    before = lead_scores(lead=_score("neg@acme.example").lead).engagement_score

    _touch(
        "neg@acme.example",
        "page_visit",
        NOW - dt.timedelta(hours=1),
        url="https://x.example/careers",
    )
    _touch("neg@acme.example", "email_click", NOW, event="unsubscribe")

    after = lead_scores(lead=_score("neg@acme.example").lead)
    assert before == 33
    assert after.engagement_score == 0
    assert {r["text"] for r in after.engagement_reasons} >= {"unsubscribed", "careers page"}


def test_history_is_written_only_when_a_score_moves():
    active_rules(engagement=[{"touch_kind": "email_open", "points": 0}])
    _touch("quiet@acme.example", "email_open", NOW)

    _touch("quiet@acme.example", "email_open", NOW + dt.timedelta(minutes=1))

    assert ScoreHistory.objects.filter(lead__email="quiet@acme.example").count() == 1


def test_a_rule_edit_creates_a_version_and_rescoring_applies_it():
    v1, _ = active_rules()
    lead = LeadFactory(company=CompanyFactory(sector="Retail"), seniority=Seniority.VP)
    scores_rescore()
    assert LeadScore.objects.get(lead=lead).fit_score == 30

    v2 = fit_ruleset_create(
        rules=[
            *FIT_RULES,
            {"attribute": "company.sector", "operator": "eq", "value": "Retail", "points": 25},
        ],
        actor=None,
    )
    fit_ruleset_activate(ruleset_id=v2.pk, actor=None, rescore=False)
    scores_rescore(cause=f"fit rules v{v2.version}")

    score = LeadScore.objects.get(lead=lead)
    assert (v1.version, v2.version, score.fit_score, score.fit_version) == (1, 2, 55, 2)
    assert ScoreHistory.objects.filter(lead=lead).first().cause == "fit rules v2"


def test_merge_moves_score_history_and_rescores_the_survivor():
    active_rules()
    _touch("a@acme.example", "webinar", NOW)
    _touch("b@acme.example", "demo", NOW)
    a, b = _score("a@acme.example").lead, _score("b@acme.example").lead

    lead_merge(survivor_id=a.pk, duplicate_id=b.pk, actor=None)

    assert not LeadScore.objects.filter(lead_id=b.pk).exists()
    assert ScoreHistory.objects.filter(lead=a).count() == 3
    reasons = {r["text"] for r in LeadScore.objects.get(lead=a).engagement_reasons}
    assert reasons == {"webinar attendance", "demo request"}


_KINDS = st.sampled_from(["webinar", "demo", "page_visit", "email_open"])
_TOUCHES = st.lists(
    st.tuples(_KINDS, st.integers(min_value=0, max_value=24 * 90), st.booleans()),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(touches=_TOUCHES)
def test_incremental_sum_equals_a_full_rescore(touches):
    if not EngagementRuleSet.objects.filter(is_active=True).exists():
        active_rules()
    lead = LeadFactory()
    # Touches arrive in any order (the list's), up to 90 days back, several on one day.
    for kind, hours, careers in touches:
        touch = TouchFactory(
            lead=lead,
            kind=kind,
            occurred_at=NOW - dt.timedelta(hours=hours),
            landing_page="https://x.example/careers" if careers else "https://x.example/",
        )
        scores_touches_record(touch_ids=[touch.pk])
    incremental = LeadScore.objects.get(lead=lead).engagement_sum

    scores_rescore(lead_ids=[lead.pk])

    rescored = LeadScore.objects.get(lead=lead).engagement_sum
    assert rescored == pytest.approx(incremental, rel=1e-9, abs=1e-6)

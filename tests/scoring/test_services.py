"""Incremental scoring through the loop's use cases, caps, signals, history, versions, merge."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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
    engagement_ruleset_activate,
    engagement_ruleset_create,
    fit_ruleset_activate,
    fit_ruleset_create,
    qualify_thresholds_set,
    scores_capture,
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


def _row(lead_id: int) -> dict:
    """A lead's scores, cap counts and history, without the lead's id."""
    score = LeadScore.objects.filter(lead_id=lead_id).values().get()
    del score["lead_id"]
    caps = list(
        EngagementCapCount.objects.filter(lead_id=lead_id)
        .order_by("rule_id", "day")
        .values_list("rule_id", "day", "count")
    )
    history = list(
        ScoreHistory.objects.filter(lead_id=lead_id)
        .order_by("id")
        .values_list("at", "fit_score", "engagement_score", "predicted_probability", "cause")
    )
    return {"score": score, "caps": caps, "history": history}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(touches=_TOUCHES)
def test_a_known_leads_touch_is_scored_as_the_batch_path_scores_it(touches):
    if not EngagementRuleSet.objects.filter(is_active=True).exists():
        active_rules()
    company = CompanyFactory(sector="Software")
    hot, batch = LeadFactory(company=company), LeadFactory(company=company)
    scores_touches_record(refit_lead_ids=[hot.pk, batch.pk])  # both known to scoring
    for kind, hours, careers in touches:
        made = [
            TouchFactory(
                lead=lead,
                kind=kind,
                occurred_at=NOW - dt.timedelta(hours=hours),
                landing_page="https://x.example/careers" if careers else "https://x.example/",
            )
            for lead in (hot, batch)
        ]
        scores_capture(lead=hot, touch=made[0], lead_changed=False)  # the hot path
        scores_touches_record(touches=[made[1]])

    assert _row(hot.pk) == _row(batch.pk)
    incremental = LeadScore.objects.get(lead=hot).engagement_sum
    scores_rescore(lead_ids=[hot.pk])
    rescored = LeadScore.objects.get(lead=hot).engagement_sum
    assert rescored == pytest.approx(incremental, rel=1e-9, abs=1e-6)


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"].split(" ", 1)[0] for q in queries.captured_queries]


def test_a_known_leads_touch_takes_at_most_five_statements():
    active_rules()
    lead = LeadFactory()
    scores_touches_record(refit_lead_ids=[lead.pk])
    scores_capture(lead=lead, touch=TouchFactory(lead=lead, kind="webinar"), lead_changed=False)
    touches = [
        TouchFactory(lead=lead, kind="demo", occurred_at=NOW),
        TouchFactory(lead=lead, kind="page_visit", occurred_at=NOW),  # the day's first: counted
        TouchFactory(lead=lead, kind="page_visit", occurred_at=NOW),
    ]
    counted = []

    for touch in touches:
        with CaptureQueriesContext(connection) as queries:
            scores_capture(lead=lead, touch=touch, lead_changed=False)
        counted.append(_statements(queries))

    # One read (rule set ids, thresholds, cap counts, the score row), the score's update and,
    # when a score moved, its history row. Before: nine to eleven (the rule sets, a savepoint,
    # the score row, the cap row, the thresholds, every column of the score written).
    assert counted[0] == ["SELECT", "UPDATE", "INSERT"]
    # The day's first capped touch counts the day's touches, then stores the count.
    assert counted[1] == ["SELECT", "SELECT", "INSERT", "UPDATE", "INSERT"]
    assert counted[2] == ["SELECT", "UPDATE", "UPDATE", "INSERT"]


def test_a_known_lead_is_scored_with_rules_activated_since_its_last_touch():
    active_rules()
    _touch("ann@acme.example", "webinar", NOW - dt.timedelta(hours=1))
    newer = engagement_ruleset_create(
        rules=[{"touch_kind": "webinar", "points": 50, "label": "big webinar"}], actor=None
    )
    engagement_ruleset_activate(ruleset_id=newer.pk, actor=None, rescore=False)

    _touch("ann@acme.example", "webinar", NOW)

    score = _score("ann@acme.example")
    assert score.engagement_version == newer.version
    assert "big webinar" in {r["text"] for r in score.engagement_reasons}


def test_a_known_leads_touch_follows_thresholds_stored_since_its_last_touch():
    active_rules()
    _touch("ann@acme.example", "webinar", NOW - dt.timedelta(hours=1))
    assert not _score("ann@acme.example").qualifies

    qualify_thresholds_set(groups=[{"engagement_min": 40}], agreement_version=2, rescore=False)
    _touch("ann@acme.example", "webinar", NOW)

    assert _score("ann@acme.example").qualifies  # 100·(1 - e^(-40/50)) = 55

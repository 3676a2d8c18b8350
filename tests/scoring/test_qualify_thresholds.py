"""The thresholds that make a lead qualify: stored by the agreement, read once per batch,
decided the same way by a touch, a full rescore and ``qualifies`` itself."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings

from leadloop.capture.models import TouchKind
from leadloop.leads.models import AttributeDefinition, AttributeType, Lead, Stage
from leadloop.scoring.models import LeadScore, QualifyThresholds
from leadloop.scoring.rescore import scores_rescore
from leadloop.scoring.services import (
    RuleInvalid,
    qualifies,
    qualify_thresholds_set,
    scores_touches_record,
)
from leadloop.scoring.training import model_train
from tests.capture.factories import TouchFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.scoring.factories import active_rules

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@override_settings(LEADLOOP_QUALIFY_FIT="A", LEADLOOP_QUALIFY_ENGAGEMENT=70)
def test_without_stored_thresholds_the_settings_decide():
    assert qualifies("A", 70, None)
    assert not qualifies("B", 100, 0.9)
    assert not qualifies("A", 69, None)


def test_a_lead_qualifies_when_any_stored_group_holds():
    qualify_thresholds_set(
        groups=[{"fit_grade_min": "B", "engagement_min": 40}, {"predicted_min": 0.25}],
        agreement_version=2,
        rescore=False,
    )

    assert qualifies("D", 0, 0.3)  # the predicted group alone
    assert qualifies("B", 40, None)  # the first group; no prediction is fine there
    assert not qualifies("C", 90, 0.2)


def test_a_group_ignores_the_thresholds_it_does_not_set():
    qualify_thresholds_set(groups=[{"engagement_min": 60}], agreement_version=2, rescore=False)

    assert qualifies("D", 60, None)
    assert not qualifies("A", 59, 0.99)


def test_without_groups_no_score_qualifies():
    qualify_thresholds_set(groups=[], agreement_version=2, rescore=False)

    assert not qualifies("A", 100, 0.99)


def test_a_threshold_out_of_range_is_refused_naming_the_group_and_key():
    with pytest.raises(RuleInvalid) as caught:
        qualify_thresholds_set(
            groups=[{"engagement_min": 40}, {"fit_grade_min": "E"}], agreement_version=2
        )

    assert caught.value.loc == ("groups", 1, "fit_grade_min")
    assert caught.value.message == "Threshold group 2: fit grade 'E' is not one of A, B, C, D."
    assert not QualifyThresholds.objects.exists()


def _engaged_leads() -> tuple[Lead, Lead]:
    """Two scored leads: a good fit that barely engaged, a poor fit that engaged a lot."""
    active_rules()
    fit = LeadFactory(company=CompanyFactory(sector="Software"), seniority="vp")
    busy = LeadFactory(company=CompanyFactory(sector="Retail"))
    for kind in (TouchKind.DEMO, TouchKind.WEBINAR, TouchKind.WEBINAR):
        TouchFactory(lead=busy, kind=kind, occurred_at=dt.datetime.now(dt.UTC))
    TouchFactory(lead=fit, kind=TouchKind.PAGE_VISIT, occurred_at=dt.datetime.now(dt.UTC))
    scores_rescore()
    return fit, busy


def _qualifying() -> set[int]:
    return set(LeadScore.objects.filter(qualifies=True).values_list("lead_id", flat=True))


def test_new_thresholds_rescore_every_lead_after_commit(django_capture_on_commit_callbacks):
    fit, busy = _engaged_leads()
    before = _qualifying()

    with override_settings(TASKS=IMMEDIATE), django_capture_on_commit_callbacks(execute=True):
        qualify_thresholds_set(groups=[{"engagement_min": 30}], agreement_version=3)

    assert before == set()
    assert _qualifying() == {busy.pk}
    assert LeadScore.objects.get(lead=fit).fit_grade in ("A", "B")


def test_the_same_thresholds_again_rescore_nothing(django_capture_on_commit_callbacks):
    qualify_thresholds_set(groups=[{"engagement_min": 30}], agreement_version=3, rescore=False)

    with django_capture_on_commit_callbacks() as callbacks:
        qualify_thresholds_set(groups=[{"engagement_min": 30}], agreement_version=4)

    assert callbacks == []
    assert QualifyThresholds.objects.get().agreement_version == 4


def test_a_touch_decides_with_the_stored_thresholds():
    active_rules()
    qualify_thresholds_set(groups=[{"engagement_min": 20}], agreement_version=2, rescore=False)
    lead = LeadFactory(company=CompanyFactory(sector="Retail"))
    touch = TouchFactory(lead=lead, kind=TouchKind.DEMO, occurred_at=dt.datetime.now(dt.UTC))

    scores = scores_touches_record(touch_ids=[touch.pk])

    assert scores[lead.pk].fit_grade == "D"
    assert scores[lead.pk].qualifies


def _trained_world() -> list[Lead]:
    """Leads with known outcomes (plan=pro converts) and an active model that predicts them."""
    AttributeDefinition.objects.create(key="plan", label="Plan", type=AttributeType.CATEGORY)
    start = NOW - dt.timedelta(days=520)
    for i in range(120):
        converts = (i % 2 == 0) != (i % 7 == 0)
        created = start + dt.timedelta(days=i)
        LeadFactory(
            created_at=created,
            attributes={"plan": "pro" if i % 2 == 0 else "basic"},
            stage=Stage.CUSTOMER if converts else Stage.LEAD,
            customer_first_at=created + dt.timedelta(days=20) if converts else None,
        )
    assert model_train(seed=1, now=NOW).is_active
    return list(Lead.objects.all())


def test_a_rescore_decides_with_the_predicted_probability_as_qualifies_does():
    _trained_world()
    scores_rescore()
    probabilities = sorted(LeadScore.objects.values_list("predicted_probability", flat=True))
    middle = probabilities[len(probabilities) // 2]
    qualify_thresholds_set(groups=[{"predicted_min": middle}], agreement_version=2, rescore=False)

    scores_rescore()

    rows = LeadScore.objects.values_list(
        "fit_grade", "predicted_probability", "qualifies", "engagement_sum"
    )
    assert {q for *_, q, _s in rows} == {True, False}
    assert all(q == qualifies(g, 0, p) for g, p, q, _s in rows)

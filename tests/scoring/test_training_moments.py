"""The model is trained on leads as the scorer sees them: at moments across their open life.

The scorer asks "will this lead reach the outcome within the horizon from now?" of every lead,
whatever its age, with every touch up to now. A model that only ever saw leads a day after
their creation meets values it never saw (a last touch months ago) and answers nonsense.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from leadloop.capture.models import TouchKind
from leadloop.leads.models import AttributeDefinition, AttributeType, Lead, Stage
from leadloop.scoring.features import AttributeInfo, LeadFacts, outcome_labels
from leadloop.scoring.predict import LoadedModel, predict_facts, predicted_for_chunk
from leadloop.scoring.training import model_fit, model_train
from tests.capture.factories import TouchFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, tzinfo=UTC)
HORIZON = 180


def _lead(
    created: datetime, *, plan: str, won_after: timedelta | None, touched_after: float = 1.0
) -> Lead:
    lead = LeadFactory(
        created_at=created,
        attributes={"plan": plan},
        stage=Stage.CUSTOMER if won_after else Stage.LEAD,
        customer_first_at=created + won_after if won_after else None,
    )
    TouchFactory(
        lead=lead, kind=TouchKind.PAGE_VISIT, occurred_at=created + timedelta(hours=touched_after)
    )
    return lead


def _history(n: int = 200) -> None:
    """`n` leads, all old enough to be known; plan=pro wins 10 to 150 days after creation."""
    AttributeDefinition.objects.create(key="plan", label="Plan", type=AttributeType.CATEGORY)
    for i in range(n):
        created = NOW - timedelta(days=600 - 2 * i, hours=i % 17)
        pro = i % 2 == 0
        wins = pro != (i % 7 == 0)  # some noise
        won_after = timedelta(days=10 + (i * 37) % 140) if wins else None
        plan = "pro" if pro else "basic"
        _lead(created, plan=plan, won_after=won_after, touched_after=0.5 + i % 20)


def test_an_open_lead_last_touched_months_ago_gets_a_sensible_probability():
    _history()
    model_train(seed=1, now=NOW)
    created = NOW - timedelta(days=90)
    pro = _lead(created, plan="pro", won_after=None)
    basic = _lead(created, plan="basic", won_after=None)

    scored = predicted_for_chunk([pro.pk, basic.pk], NOW)

    assert scored is not None
    # Most pro leads still open 90 days in win later: a fair chance, neither 0 nor certain.
    assert 0.3 < scored[pro.pk][0] < 0.95
    assert scored[basic.pk][0] < scored[pro.pk][0]
    assert scored[pro.pk][1], "a lead with a real probability has model reasons"


def test_training_moments_lie_in_the_leads_known_life_and_spread_over_it():
    _history()
    leads = {lead.pk: lead for lead in Lead.objects.all()}

    rows = outcome_labels(outcome="customer", horizon_days=HORIZON, now=NOW)

    ages = []
    for row in rows:
        lead = leads[row.lead_id]
        assert lead.created_at <= row.decision_at
        if lead.customer_first_at is not None:
            assert row.decision_at < lead.customer_first_at
            assert row.label == 1
        else:
            assert row.decision_at <= NOW - timedelta(days=HORIZON)
            assert row.label == 0
        ages.append((row.decision_at - lead.created_at) / timedelta(days=1))
    assert len(rows) == 200
    assert np.percentile(ages, 10) < 20 < 100 < np.percentile(ages, 90)


def test_a_lead_won_after_the_horizon_is_positive_only_from_moments_within_it():
    created = NOW - timedelta(days=700)
    leads = [
        LeadFactory(created_at=created, customer_first_at=created + timedelta(days=400))
        for _ in range(60)
    ]

    rows = outcome_labels(outcome="customer", horizon_days=HORIZON, now=NOW)

    assert {r.lead_id for r in rows} == {lead.pk for lead in leads}
    for row in rows:
        left = (created + timedelta(days=400) - row.decision_at) / timedelta(days=1)
        assert row.label == int(left <= HORIZON)
        assert row.weight == pytest.approx(400)  # the days the moment was drawn from
    assert {r.label for r in rows} == {0, 1}


def test_the_same_data_and_seed_give_the_same_training_moments():
    _history(40)

    first = outcome_labels(outcome="customer", horizon_days=HORIZON, now=NOW, seed=3)
    again = outcome_labels(outcome="customer", horizon_days=HORIZON, now=NOW, seed=3)
    other = outcome_labels(outcome="customer", horizon_days=HORIZON, now=NOW, seed=4)

    assert first == again
    assert [r.decision_at for r in first] != [r.decision_at for r in other]


def test_a_number_beyond_anything_seen_in_training_scores_like_the_largest_seen():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 10, 300)
    facts = [
        LeadFacts(lead_id=i, at=NOW, attributes={"visits": float(v)}) for i, v in enumerate(values)
    ]
    labels = [int(rng.random() < 1 / (1 + np.exp(5 - v))) for v in values]
    result = model_fit(
        facts=facts,
        labels=labels,
        order=list(range(len(facts))),
        attributes=[AttributeInfo("visits", "Visits", AttributeType.NUMBER)],
        dates_vary=False,
        split="random",
        seed=0,
    )
    assert result.algorithm == "logistic_regression"  # trees never extrapolate anyway
    model = LoadedModel(1, result.pipeline, result.spec, result.baseline)
    largest = float(values.max())

    scored = predict_facts(
        model,
        [
            LeadFacts(lead_id=1, at=NOW, attributes={"visits": largest}),
            LeadFacts(lead_id=2, at=NOW, attributes={"visits": 1000 * largest}),
        ],
    )

    assert scored[2][0] == pytest.approx(scored[1][0], abs=1e-4)


def test_weights_count_a_training_fact_as_that_many():
    facts = [LeadFacts(lead_id=i, at=NOW, source="event" if i % 2 else "ads") for i in range(800)]
    # ads: half won, but the lost ones weigh 3, so a quarter of the weight won; event: 10 %.
    labels = [int(i % 20 == 1) if i % 2 else int(i % 4 == 0) for i in range(800)]
    weights = [1.0 if i % 2 or labels[i] else 3.0 for i in range(800)]

    result = model_fit(
        facts=facts,
        labels=labels,
        order=list(range(800)),
        attributes=[],
        dates_vary=False,
        split="random",
        seed=0,
        weights=weights,
    )

    model = LoadedModel(1, result.pipeline, result.spec, result.baseline)
    scored = predict_facts(model, [facts[0], facts[1]])
    assert scored[0][0] == pytest.approx(0.25, abs=0.05)
    assert scored[1][0] == pytest.approx(0.10, abs=0.04)
    assert result.metrics["base_rate"] == pytest.approx(0.20, abs=0.03)  # 240 of 1,200

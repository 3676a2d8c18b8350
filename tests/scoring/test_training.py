"""Training the predictive model: labels, no leakage, activation only when it beats the base rate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.management import call_command

from leadloop.capture.models import TouchKind
from leadloop.leads.models import AttributeDefinition, AttributeType, Lead, Stage
from leadloop.scoring.features import (
    FeatureSpec,
    feature_row,
    lead_facts,
    outcome_labels,
    spec_build,
)
from leadloop.scoring.models import PredictiveModel
from leadloop.scoring.predict import predicted_for_chunk, predicted_for_lead
from leadloop.scoring.training import (
    ISOTONIC_FROM,
    TrainingDataInsufficient,
    _calibrated,
    _fitted,
    attribute_infos,
    model_activate,
    model_train,
)
from tests.capture.factories import TouchFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _world(n: int = 120, *, reverse_late: bool = False) -> None:
    """`n` leads created a day apart, old enough to be known; plan=pro converts.

    With `reverse_late`, the newer half converts on plan=basic instead: what was true for the
    older leads is false for the newer ones.
    """
    AttributeDefinition.objects.create(key="plan", label="Plan", type=AttributeType.CATEGORY)
    start = NOW - timedelta(days=400 + n)
    for i in range(n):
        created = start + timedelta(days=i)
        pro = i % 2 == 0
        converts = pro if not (reverse_late and i >= n * 0.8) else not pro
        if i % 7 == 0:
            converts = not converts  # some noise
        LeadFactory(
            created_at=created,
            attributes={"plan": "pro" if pro else "basic"},
            stage=Stage.CUSTOMER if converts else Stage.LEAD,
            customer_first_at=created + timedelta(days=20) if converts else None,
        )


def test_a_touch_after_the_training_moment_does_not_change_the_features():
    lead = LeadFactory(created_at=NOW - timedelta(days=30), mql_first_at=NOW - timedelta(days=10))
    (row,) = outcome_labels(outcome="customer", horizon_days=20, now=NOW)
    TouchFactory(
        lead=lead, kind=TouchKind.WEBINAR, occurred_at=row.decision_at - timedelta(hours=1)
    )
    before = lead_facts({lead.pk: row.decision_at})
    spec = spec_build(attribute_infos(), [*before, *lead_facts({lead.pk: NOW})])

    TouchFactory(lead=lead, kind=TouchKind.DEMO, occurred_at=row.decision_at + timedelta(hours=1))
    after = lead_facts({lead.pk: row.decision_at})

    assert lead.created_at <= row.decision_at <= NOW - timedelta(days=20)
    assert feature_row(spec, after[0]) == feature_row(spec, before[0])
    assert len(after[0].touches) == 1


def test_leads_younger_than_the_horizon_without_outcome_are_left_out():
    young = LeadFactory(created_at=NOW - timedelta(days=10))
    old = LeadFactory(created_at=NOW - timedelta(days=400))
    won = LeadFactory(
        created_at=NOW - timedelta(days=10), customer_first_at=NOW - timedelta(days=2)
    )

    labels = {
        r.lead_id: r.label for r in outcome_labels(outcome="customer", horizon_days=180, now=NOW)
    }

    assert labels == {old.pk: 0, won.pk: 1}
    assert young.pk not in labels


def test_a_model_that_beats_the_base_rate_is_stored_and_activated():
    _world()

    model = model_train(seed=1, now=NOW)

    assert model.is_active
    assert model.metrics["split"] == "time"
    assert model.metrics["auc"] > 0.7
    assert model.metrics["brier"] < model.metrics["base_rate_brier"]
    assert {"time", "random"} == set(model.metrics["splits"])
    assert len(model.metrics["calibration"]) == 10
    assert "attr.plan" in model.features
    assert model.status_note.startswith("Beats the base rate")


def test_a_model_that_does_not_beat_the_base_rate_is_stored_but_not_activated():
    _world(reverse_late=True)

    model = model_train(seed=1, now=NOW)

    assert not model.is_active
    assert model.status_note.startswith("Not activated:")
    assert PredictiveModel.objects.filter(is_active=True).count() == 0
    assert predicted_for_chunk([Lead.objects.first().pk], NOW) is None


def test_training_without_known_outcomes_is_refused():
    LeadFactory(created_at=NOW - timedelta(days=1))

    with pytest.raises(TrainingDataInsufficient, match="Too few leads with a known outcome"):
        model_train(now=NOW)


def test_predictions_come_with_the_model_reasons_in_plain_words():
    _world()
    model_train(seed=1, now=NOW)
    pro = Lead.objects.filter(attributes__plan="pro").first()
    basic = Lead.objects.filter(attributes__plan="basic").first()

    scored = predicted_for_chunk([pro.pk, basic.pk], NOW)

    assert scored is not None
    assert scored[pro.pk][0] > scored[basic.pk][0]
    assert any(r.startswith("model: Plan pro raises the odds \u00d7") for r in scored[pro.pk][1])
    assert predicted_for_lead(pro.pk) is not None


def test_predicted_for_chunk_is_none_without_an_active_model():
    lead = LeadFactory()

    assert predicted_for_chunk([lead.pk], NOW) is None
    assert predicted_for_lead(lead.pk) is None


def test_model_commands_evaluate_and_activate(capsys):
    _world(reverse_late=True)
    model = model_train(seed=1, now=NOW)

    call_command("model", "evaluate", "--version", str(model.version), "--json")
    card = json.loads(capsys.readouterr().out)
    call_command("model", "activate", str(model.version))
    said = capsys.readouterr().out
    call_command("model", "evaluate")
    table = capsys.readouterr().out

    assert (card["version"], card["is_active"]) == (model.version, False)
    assert card["splits"]["time"]["auc"] == card["auc"]
    assert f"Model v{model.version} is now the active model." in said
    assert "AUC" in table
    assert PredictiveModel.objects.get(version=model.version).is_active


def test_activating_an_unknown_version_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("model", "activate", "9")

    assert exit_.value.code == 2
    assert "There is no model version 9." in capsys.readouterr().err


def test_activating_a_version_deactivates_the_other():
    _world()
    first = model_train(seed=1, now=NOW)
    second = model_train(seed=2, now=NOW)

    model_activate(version=first.version)

    assert list(
        PredictiveModel.objects.filter(is_active=True).values_list("version", flat=True)
    ) == [first.version]
    assert second.version == first.version + 1


@pytest.mark.parametrize("algorithm", ["logistic_regression", "hist_gradient_boosting"])
def test_few_customers_are_calibrated_with_a_sigmoid_that_never_says_zero(algorithm):
    # 3,000 training rows but 40 customers: isotonic regression would fit steps to those 40
    # and give exactly 0 to every lead scored below the lowest of them.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3000, 2))
    y = np.zeros(3000, dtype=int)
    y[rng.choice(np.flatnonzero(x[:, 0] > 0.5), size=40, replace=False)] = 1  # "a" matters
    spec = FeatureSpec(categorical=(), numeric=(("a", "a"), ("b", "b")))

    few = _fitted(spec, algorithm, 0, x.astype(object), y, None, np.arange(3000))

    assert few.method == "sigmoid"
    assert few.predict_proba(x.astype(object))[:, 1].min() > 0
    many = _calibrated(spec, algorithm, 0, ISOTONIC_FROM)
    assert many.method == "isotonic"

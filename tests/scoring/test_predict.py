"""The prediction of a rescoring chunk: the features read column by column equal the leads'
facts, and a logistic regression's reasons come without scoring a variant row per value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from leadloop.capture.models import Channel, TouchKind
from leadloop.leads.models import AttributeDefinition, AttributeType, Lead, Stage
from leadloop.scoring.features import (
    FeatureSpec,
    feature_matrix,
    feature_matrix_at,
    feature_phrase,
    lead_facts,
    spec_build,
)
from leadloop.scoring.predict import (
    LoadedModel,
    _differs,
    _linear_parts_of,
    _reason_words,
    _typical_row,
    _variants,
    _variants_linear,
    predict_facts,
)
from leadloop.scoring.training import _baseline, _calibrated, attribute_infos
from leadloop.scoring.trees import _parts_of, tree_variants
from tests.capture.factories import TouchFactory
from tests.content.factories import ContentOfferFactory
from tests.leads.factories import CompanyFactory, LeadFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _leads() -> list[Lead]:
    """Leads that differ in every column the model reads, with touches on both sides of the
    windows' edges (exactly 30 days back, exactly at the moment, after it)."""
    AttributeDefinition.objects.create(key="plan", label="Plan", type=AttributeType.CATEGORY)
    AttributeDefinition.objects.create(key="seats", label="Seats", type=AttributeType.NUMBER)
    AttributeDefinition.objects.create(key="trial", label="Trial", type=AttributeType.BOOLEAN)
    offer, other = ContentOfferFactory(), ContentOfferFactory()
    companies = [
        CompanyFactory(sector="Software", employee_count=8, country="DE", annual_revenue=None),
        CompanyFactory(sector="Retail", employee_count=4000, country="FR", annual_revenue=2e6),
        CompanyFactory(sector="", employee_count=None, country="", annual_revenue=1234.5),
    ]
    leads: list[Lead] = []
    for i in range(12):
        lead = LeadFactory(
            company=companies[i % 3] if i % 4 else None,
            source=["organic_search", "paid_search", ""][i % 3],
            country=["DE", "", "US"][i % 3],
            seniority=["vp", "", "manager"][i % 3],
            attributes=[
                {"plan": "pro", "seats": 12, "trial": True},
                {"plan": "basic", "seats": "7.5", "trial": False},
                {"seats": "many"},
                {},
            ][i % 4],
        )
        leads.append(lead)
        kinds = [TouchKind.WEBINAR, TouchKind.PAGE_VISIT, TouchKind.DEMO, TouchKind.EMAIL_OPEN]
        for k in range(i % 6):
            TouchFactory(
                lead=lead,
                kind=kinds[(i + k) % 4],
                channel=[Channel.EMAIL, Channel.PAID_SEARCH, Channel.ORGANIC_SEARCH][k % 3],
                content_offer=[offer, other, None][(i + k) % 3],
                occurred_at=AT - timedelta(days=[1, 7, 30, 31, 90, 200][k], seconds=i % 2),
            )
        if i % 5 == 0:
            TouchFactory(lead=lead, kind=TouchKind.MEETING, occurred_at=AT)  # not before AT
            TouchFactory(lead=lead, kind=TouchKind.DEMO, occurred_at=AT + timedelta(hours=1))
    return leads


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    for x, y in zip(a.ravel().tolist(), b.ravel().tolist(), strict=True):
        both_nan = isinstance(x, float) and isinstance(y, float) and x != x and y != y
        if type(x) is not type(y) or not (x == y or both_nan):
            return False
    return True


def test_the_chunk_matrix_equals_the_matrix_of_the_leads_facts():
    leads = _leads()
    ids = [lead.pk for lead in leads]
    facts = lead_facts(dict.fromkeys(ids, AT))
    spec = spec_build(attribute_infos(), facts)

    found, matrix = feature_matrix_at(spec, ids, AT)

    assert {"attr.plan", "attr.seats", "attr.trial", "touches.30d", "touches.offers"} <= set(
        spec.names
    )
    assert found == ids
    assert _same(matrix, feature_matrix(spec, facts))


def test_the_chunk_matrix_of_scattered_ids_leaves_out_missing_leads():
    leads = _leads()
    wanted = [leads[9].pk, leads[2].pk, 999_999, leads[5].pk]
    spec = spec_build(attribute_infos(), lead_facts({lead.pk: AT for lead in leads}))

    found, matrix = feature_matrix_at(spec, wanted, AT)

    expected = lead_facts(dict.fromkeys([leads[9].pk, leads[2].pk, leads[5].pk], AT))
    assert found == [leads[9].pk, leads[2].pk, leads[5].pk]
    assert _same(matrix, feature_matrix(spec, expected))


def _trained(n_for_method: int) -> tuple[LoadedModel, list[int], np.ndarray]:
    """A calibrated logistic regression on leads where the plan and webinars matter;
    `n_for_method` picks the calibration as training does (isotonic from 1,000 rows of the
    rarer outcome)."""
    AttributeDefinition.objects.create(key="plan", label="Plan", type=AttributeType.CATEGORY)
    rng = np.random.default_rng(3)
    for i in range(160):
        pro = bool(rng.random() < 0.5)
        webinars = int(rng.integers(0, 4))
        converts = rng.random() < 0.15 + 0.4 * pro + 0.1 * webinars
        lead = LeadFactory(
            attributes={"plan": "pro" if pro else "basic"},
            seniority=["vp", "manager", ""][i % 3],
            stage=Stage.CUSTOMER if converts else Stage.LEAD,
        )
        for k in range(webinars):
            TouchFactory(lead=lead, kind=TouchKind.WEBINAR, occurred_at=AT - timedelta(days=k + 1))
    ids = list(Lead.objects.order_by("pk").values_list("pk", flat=True))
    facts = lead_facts(dict.fromkeys(ids, AT))
    spec = spec_build(attribute_infos(), facts)
    x = feature_matrix(spec, facts)
    y = np.array(
        [s == Stage.CUSTOMER for s in Lead.objects.order_by("pk").values_list("stage", flat=True)]
    )
    pipeline = _calibrated(spec, "logistic_regression", 0, n_for_method).fit(x, y)
    return LoadedModel(1, pipeline, spec, _baseline(spec, x)), ids, x


@pytest.mark.parametrize("n_for_method", [100, 5000], ids=["sigmoid", "isotonic"])
def test_a_logistic_regressions_variants_equal_scoring_each_variant_row(n_for_method):
    model, ids, x = _trained(n_for_method)

    linear = _variants_linear(model, x)
    p, q = _variants(model, x, _differs(x, model.baseline))

    assert linear is not None
    assert np.array_equal(linear[0], p)  # the probability itself: the pipeline's own
    np.testing.assert_allclose(linear[1], q, rtol=1e-9, atol=1e-12)
    scored = predict_facts(model, lead_facts(dict.fromkeys(ids, AT)))
    assert any(
        r.startswith("model: Plan pro raises the odds") for _p, rs in scored.values() for r in rs
    )


@pytest.mark.parametrize("n_for_method", [100, 5000], ids=["sigmoid", "isotonic"])
def test_a_tree_models_variants_equal_scoring_each_variant_row(n_for_method):
    model, ids, x = _trained(100)
    y = np.array(
        [s == Stage.CUSTOMER for s in Lead.objects.order_by("pk").values_list("stage", flat=True)]
    )
    pipeline = _calibrated(model.spec, "hist_gradient_boosting", 0, n_for_method).fit(x, y)
    trees = LoadedModel(2, pipeline, model.spec, model.baseline)
    # and rows it never saw: a plan unknown in training, numbers missing
    plan = next(j for j in range(x.shape[1]) if set(x[:, j]) == {"pro", "basic"})
    unseen = x[:20].copy()
    unseen[:10, plan] = "enterprise"
    numeric = [j for j in range(x.shape[1]) if isinstance(x[0, j], float | int)]
    assert len(numeric) >= 3
    unseen[5:15, numeric[:3]] = np.nan
    x = np.concatenate([x, unseen])
    differs = _differs(x, trees.baseline)

    cheap = tree_variants(pipeline, x, _typical_row(trees), differs)
    p, q = _variants(trees, x, differs)

    assert _linear_parts_of(trees) is None
    assert cheap is not None
    np.testing.assert_allclose(cheap[0], p, rtol=0, atol=1e-12)
    np.testing.assert_allclose(cheap[1], q, rtol=0, atol=1e-9)
    assert (np.abs(q - p[:, None]) > 1e-3).any()  # some values move the prediction
    part = _parts_of(pipeline)[0]
    assert 0 < len(part.trees_of) < x.shape[1]  # columns no tree splits on are skipped
    assert min(len(t) for t in part.trees_of.values()) < len(part.trees)
    scored = predict_facts(trees, lead_facts(dict.fromkeys(ids, AT)))
    assert any(r.startswith("model: Plan ") for _p, rs in scored.values() for r in rs)


def test_reasons_count_in_plain_words_one_and_many():
    spec = FeatureSpec(
        categorical=(),
        numeric=(
            ("touch.demo", "demo touches"),
            ("channel.email", "touches from e-mail"),
            ("touches.offers", "distinct content offers"),
        ),
    )

    assert feature_phrase(spec, "touch.demo", 1.0) == ("1 demo touch", False)
    assert feature_phrase(spec, "touch.demo", 3.0) == ("3 demo touches", True)
    assert feature_phrase(spec, "channel.email", 1.0) == ("1 touch from e-mail", False)
    assert feature_phrase(spec, "touches.offers", 1.0) == ("1 distinct content offer", False)
    assert feature_phrase(spec, "touch.demo", 0.0) == ("no demo touches", True)
    assert _reason_words(feature_phrase(spec, "touch.demo", 1.0), 1.8) == (
        "model: 1 demo touch raises the odds \u00d71.8"
    )

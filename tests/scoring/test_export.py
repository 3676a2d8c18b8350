"""``leadloop export leads``: every lead's scores as CSV, and a clear refusal of bad fields."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from leadloop.scoring.models import ENGAGEMENT_EPOCH, EngagementRuleSet, LeadScore
from leadloop.scoring.predict import engagement_score
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_export_writes_every_lead_with_its_scores(tmp_path):
    EngagementRuleSet.objects.create(version=1, is_active=True, half_life_days=30, scale=50)
    scored = LeadFactory(external_id="a-1", email="a@x.example")
    days = (datetime.now(UTC) - ENGAGEMENT_EPOCH).total_seconds() / 86400
    s = 50 * 2 ** (days / 30)  # E = 50 now: engagement 63
    LeadScore.objects.create(
        lead=scored, fit_score=80, engagement_sum=s, predicted_probability=0.42
    )
    LeadFactory(external_id="b-2", email="b@x.example")
    out = tmp_path / "scores.csv"

    call_command(
        "export", "leads", "--format", "csv", "--output", str(out),
        "--fields", "external_id,email,fit_score,engagement_score,predicted_probability",
    )  # fmt: skip

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["external_id"] for r in rows] == ["a-1", "b-2"]
    assert (rows[0]["fit_score"], rows[0]["predicted_probability"]) == ("80", "0.42")
    assert int(rows[0]["engagement_score"]) == 63
    assert (rows[1]["fit_score"], rows[1]["engagement_score"], rows[1]["predicted_probability"]) == (
        "", "0", "")  # fmt: skip


def test_export_to_stdout_by_default(capsys):
    LeadFactory(external_id="c-3", email="c@x.example")

    call_command("export", "leads", "--fields", "external_id,email")

    assert capsys.readouterr().out.splitlines() == ["external_id,email", "c-3,c@x.example"]


def test_an_unknown_field_exits_2_naming_it(capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("export", "leads", "--fields", "email,fit_scor")

    assert exit_.value.code == 2
    assert "unknown field 'fit_scor'" in capsys.readouterr().err


def test_engagement_score_decays_by_half_lives():
    ruleset = EngagementRuleSet(half_life_days=30, scale=50)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    days = (at - ENGAGEMENT_EPOCH).total_seconds() / 86400
    s = 50 * 2 ** (days / 30)  # E = 50 now

    assert engagement_score(s, at, ruleset) == 63  # 100·(1 - e^-1)
    assert engagement_score(0.0, at, ruleset) == 0

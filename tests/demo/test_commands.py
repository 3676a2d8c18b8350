from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from leadloop.accounts.models import Role, TeamKind, User
from leadloop.demo.staff import DEMO_PASSWORD
from leadloop.leads.models import Lead
from leadloop.scoring.models import FitRuleSet, LeadScore, PredictiveModel
from leadloop.sla.models import MarketingSlaResult, SlaClock

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


LOGINS = {
    "marketing": Role.MARKETING_OPS,
    "rep": Role.SALES_REP,
    "manager": Role.SALES_MANAGER,
    "leader": Role.REVENUE_LEADER,
    "admin": Role.ADMIN,
}


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_demo_fills_an_empty_database_and_reports():
    output = _run("demo", "--leads", "40", "--seed", "2")

    assert Lead.objects.count() == 40
    assert "Made 40 leads at" in output


def test_if_empty_leaves_a_filled_database_alone():
    _run("demo", "--leads", "20")

    output = _run("demo", "--leads", "50", "--if-empty")

    assert output == "20 leads exist already; the demo leaves them alone.\n"
    assert Lead.objects.count() == 20


def test_a_filled_database_is_refused_without_reset():
    _run("demo", "--leads", "20")

    with pytest.raises(CommandError, match=r"The database has 20 leads\. Run with --reset"):
        _run("demo", "--leads", "50")


def test_reset_replaces_the_demo():
    _run("demo", "--leads", "20")

    output = _run("demo", "--leads", "30", "--reset")

    assert "Deleted 20 demo leads" in output
    assert Lead.objects.count() == 30


def test_demo_users_creates_one_login_per_role_idempotently():
    _run("demo_users")

    output = _run("demo_users")

    users = User.objects.filter(username__in=LOGINS)
    assert {u.username: u.role for u in users} == LOGINS
    assert all(u.check_password(DEMO_PASSWORD) for u in users)
    assert [u.username for u in users if u.is_superuser and u.is_staff] == ["admin"]
    assert "http://127.0.0.1:8000/" in output
    assert DEMO_PASSWORD in output


def test_demo_logins_sit_in_their_teams():
    _run("demo_users")

    teams = dict(User.objects.values_list("username", "team__kind"))

    assert (teams["rep"], teams["manager"], teams["marketing"]) == (
        TeamKind.SALES,
        TeamKind.SALES,
        TeamKind.MARKETING,
    )


def test_the_rep_login_works_demo_leads():
    _run("demo_users")
    _run("demo", "--leads", "400", "--seed", "3")

    rep = User.objects.get(username="rep")

    assert rep.stage_changes.exists()
    assert rep.check_password(DEMO_PASSWORD)  # the demo keeps the password demo_users set


def test_demo_users_prints_the_address_the_server_will_use():
    output = _run("demo_users", "--url", "http://127.0.0.1:8799/")

    assert "Sign in at http://127.0.0.1:8799/" in output


def test_the_demo_comes_with_default_rules_and_scored_leads():
    _run("demo", "--leads", "40", "--seed", "3")

    assert LeadScore.objects.count() == Lead.objects.count() == 40
    assert FitRuleSet.objects.filter(is_active=True).exists()
    assert LeadScore.objects.filter(fit_score__gt=0).exists()


def test_the_demo_trains_a_model_so_leads_show_a_prediction_with_reasons(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 10, 30, tzinfo=dt.UTC))  # the same story
    output = _run("demo", "--leads", "6000", "--seed", "3")

    model = PredictiveModel.objects.get()
    assert f"Trained predictive model v{model.version}" in output
    assert model.is_active, model.status_note
    assert model.trained_by.username == "marketing"
    predicted = LeadScore.objects.filter(predicted_probability__isnull=False)
    assert predicted.count() == Lead.objects.count()
    assert predicted.exclude(predicted_reasons=[]).exists()


def test_a_demo_too_small_to_learn_from_says_so_and_still_scores():
    output = _run("demo", "--leads", "40", "--seed", "3")

    assert "No predictive model: " in output
    assert not PredictiveModel.objects.exists()
    assert LeadScore.objects.count() == 40


def test_no_model_skips_training():
    output = _run("demo", "--leads", "40", "--seed", "3", "--no-model")

    assert "predictive model" not in output
    assert not PredictiveModel.objects.exists()


def test_the_demo_records_recent_hand_offs_so_both_scorecards_have_figures():
    output = _run("demo", "--leads", "1200", "--seed", "3", "--no-model")

    assert "answered hand-offs of the last 26 weeks" in output
    assert MarketingSlaResult.objects.count() >= 25
    assert SlaClock.objects.filter(stopped_at__isnull=False).exists()

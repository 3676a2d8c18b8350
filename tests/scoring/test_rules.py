"""The scoring formulas without the database: operators, grades, clamp, decay, words."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from leadloop.scoring.models import ENGAGEMENT_EPOCH
from leadloop.scoring.rules import (
    EngagementRuleData,
    FitRuleData,
    TouchFacts,
    engagement_moves,
    engagement_now,
    engagement_score,
    epoch_weight,
    fit_evaluate,
    fit_grade,
    fit_moves,
    fit_rule_matches,
    recency_note,
)


def _rule(op: str, value: Any, attr_type: str = "text") -> FitRuleData:
    return FitRuleData("company.sector", op, value, 10, attr_type=attr_type)


@pytest.mark.parametrize(
    ("op", "wanted", "have", "expected"),
    [
        ("eq", "Software", "software", True),
        ("eq", "Software", "Retail", False),
        ("neq", "Software", "Retail", True),
        ("neq", "Software", "", False),  # unknown is not "is not X"
        ("in", ["Software", "IT services"], "IT Services", True),
        ("in", ["Software"], "Retail", False),
        ("not_in", ["Education", "Non-profit"], "Software", True),
        ("not_in", ["Education"], "education", False),
        ("gte", 200, 250, True),
        ("gte", 200, 199, False),
        ("lte", 50, 50, True),
        ("lte", 50, 51, False),
        ("between", [51, 1000], 51, True),
        ("between", [51, 1000], 1001, False),
        ("contains", "soft", "Software", True),
        ("contains", "hard", "Software", False),
        ("is_set", None, "x", True),
        ("is_set", None, None, False),
        ("is_not_set", None, "", True),
        ("is_not_set", None, "x", False),
    ],
)
def test_every_operator(op: str, wanted: Any, have: Any, expected: bool) -> None:
    assert fit_rule_matches(_rule(op, wanted), have) is expected


def test_custom_attributes_compare_by_their_type() -> None:
    number = FitRuleData("attributes.seats", "gte", 10, 5, attr_type="number")
    yes = FitRuleData("attributes.trial", "eq", True, 5, attr_type="boolean")
    date = FitRuleData("attributes.renewal", "lte", "2026-06-30", 5, attr_type="date")

    assert fit_rule_matches(number, "12")
    assert not fit_rule_matches(number, "9")
    assert fit_rule_matches(yes, "yes")
    assert not fit_rule_matches(yes, "no")
    assert fit_rule_matches(date, "2026-05-01")
    assert not fit_rule_matches(date, "2026-07-01")


@pytest.mark.parametrize(
    ("score", "grade"),
    [(100, "A"), (75, "A"), (74, "B"), (50, "B"), (49, "C"), (25, "C"), (24, "D")],
)
def test_grade_bands(score: int, grade: str) -> None:
    assert fit_grade(score, a=75, b=50, c=25) == grade


def test_fit_is_clamped_to_0_and_100() -> None:
    big = [
        FitRuleData("lead.title", "is_set", None, 80),
        FitRuleData("lead.country", "is_set", None, 80),
    ]
    bad = [FitRuleData("lead.title", "is_set", None, -30)]

    assert (
        fit_evaluate(big, {"lead.title": "CEO", "lead.country": "DE"}, grades=(75, 50, 25)).score
        == 100
    )
    assert fit_evaluate(bad, {"lead.title": "CEO"}, grades=(75, 50, 25)).score == 0


def test_fit_reasons_and_moves_are_in_words() -> None:
    rules = [
        FitRuleData("company.sector", "eq", "Software", 22),
        FitRuleData("lead.seniority", "eq", "manager", 10),
        FitRuleData("lead.seniority", "eq", "vp", 25, label="a VP title"),
    ]
    result = fit_evaluate(
        rules, {"company.sector": "Software", "lead.seniority": "manager"}, grades=(75, 50, 25)
    )

    assert result.reasons == [
        {"points": 22, "text": "sector is Software"},
        {"points": 10, "text": "seniority is manager"},
    ]
    assert fit_moves(rules, result.matched) == [
        {"points": 15, "text": "a VP title would add 15 fit"}
    ]


def test_a_touch_30_days_ago_counts_half_with_a_30_day_half_life() -> None:
    now = dt.datetime(2026, 3, 31, tzinfo=dt.UTC)
    then = now - dt.timedelta(days=30)

    decayed = engagement_now(10 * epoch_weight(then, 30.0), now, 30.0)

    assert decayed == pytest.approx(5.0)


def test_engagement_saturates_and_never_goes_below_zero() -> None:
    assert engagement_score(50.0, 50.0) == 63  # 100·(1 - 1/e)
    assert engagement_score(10_000.0, 50.0) == 100
    assert engagement_score(-20.0, 50.0) == 0


def test_engagement_rules_need_every_filled_criterion() -> None:
    rule = EngagementRuleData(id=1, points=-10, touch_kind="page_visit", url_contains="/careers")
    at = ENGAGEMENT_EPOCH

    assert rule.matches(TouchFacts("page_visit", at, url="https://x.example/careers/dev"))
    assert not rule.matches(TouchFacts("page_visit", at, url="https://x.example/pricing"))
    assert not rule.matches(TouchFacts("email_open", at, url="https://x.example/careers"))


def test_an_unsubscribe_property_matches_its_rule() -> None:
    rule = EngagementRuleData(id=1, points=-25, property_equals={"event": "unsubscribe"})

    assert rule.matches(
        TouchFacts("email_click", ENGAGEMENT_EPOCH, properties={"event": "unsubscribe"})
    )
    assert not rule.matches(TouchFacts("email_click", ENGAGEMENT_EPOCH, properties={}))


def test_what_would_move_engagement_and_the_recency_note() -> None:
    demo = EngagementRuleData(id=1, points=30, touch_kind="demo", label="demo request")
    now = dt.datetime(2026, 3, 31, tzinfo=dt.UTC)
    last = now - dt.timedelta(days=45)
    total = 40 * epoch_weight(last, 30.0)

    moves = engagement_moves([demo], 0.0, k=50.0)
    note = recency_note(total, last, at=now, rules_h=30.0, k=50.0)

    assert moves == [{"points": 45, "text": "a demo request would add 45 engagement"}]
    assert note is not None
    assert note["text"] == "no touch in 45 days"
    assert note["points"] < 0

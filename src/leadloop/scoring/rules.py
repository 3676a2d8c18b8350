"""The scoring formulas, free of the database: fit rules, engagement rules, decay, words.

    fit        = clamp(Σ points of the matching fit rules, 0, 100), graded A-D by the rule set
    engagement = 100·(1 - exp(-E/k)),  E = S·2^(-(t - t₀)/h),  S = Σ pᵢ·2^((tᵢ - t₀)/h)

``S`` (``LeadScore.engagement_sum``) is kept at the fixed epoch t₀ so a touch adds one term and
the score at any time is derived. A rule with a daily cap counts its touches of a day at the
day's start (00:00 UTC): which of a day's touches count then never changes the sum, so adding
touches one by one in any order gives the same S as recomputing from all of them.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, TypedDict

from leadloop.scoring.models import ENGAGEMENT_EPOCH, Operator

_DAY: Final = 86400.0
# Below this half-life the epoch weights 2^((t - t₀)/h) overflow a float within decades.
MIN_HALF_LIFE_DAYS: Final = 7.0


class Reason(TypedDict):
    points: int
    text: str


class EngagementReason(Reason, total=False):
    rule_id: int  # the rule whose decayed contribution this is
    sum: float  # the rule's share of S, at the epoch
    count: int  # how many touches it counted


# --- Fit ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitRuleData:
    attribute: str  # lead.<field>, company.<field> or attributes.<key>
    operator: str
    value: Any
    points: int
    label: str = ""
    attr_type: str = "text"  # the AttributeDefinition type of an attributes.<key> rule

    def describe(self) -> str:
        """The rule's condition in words: "company sector is Software"."""
        if self.label:
            return self.label
        name = attribute_words(self.attribute)
        op = Operator(self.operator).label if self.operator in Operator.values else self.operator
        if self.operator in (Operator.IS_SET, Operator.IS_NOT_SET):
            return f"{name} {op}"
        return f"{name} {op} {value_words(self.value)}"


def attribute_words(attribute: str) -> str:
    """``company.employee_count`` -> "company size"; ``lead.seniority`` -> "seniority"."""
    scope, _, name = attribute.partition(".")
    words = {"employee_count": "size (employees)", "annual_revenue": "revenue"}.get(
        name, name.replace("_", " ")
    )
    if scope == "company":
        return f"company {words}" if name != "sector" else "sector"
    return words


def value_words(value: Any) -> str:
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, int | float) for v in value):
            return f"{value[0]}-{value[1]}"
        return ", ".join(str(v) for v in value)
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    return None


def _typed(value: Any, attr_type: str) -> Any:
    """A custom attribute as its AttributeDefinition type: numbers, yes/no, ISO dates."""
    if value is None or value == "":
        return None
    if attr_type == "number":
        return _number(value)
    if attr_type == "boolean":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "y", "ja", "x")
        return bool(value)
    if attr_type == "date":
        return str(value)[:10]  # ISO dates compare as text
    return value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None and not isinstance(a, str):
        return na == nb
    return str(a).strip().casefold() == str(b).strip().casefold()


def _order_key(value: Any, attr_type: str) -> Any:
    return str(value)[:10] if attr_type == "date" else _number(value)


def fit_rule_matches(rule: FitRuleData, raw: Any) -> bool:
    """Whether `raw` (the lead's value of the rule's attribute) satisfies the rule.

    An unknown value (None or "") matches only "is unknown": it is not "is not X" either.
    Text compares without case; "contains" finds a substring (or a member of a list).
    """
    value = _typed(raw, rule.attr_type)
    op = rule.operator
    if op == Operator.IS_SET:
        return value is not None and value != ""
    if op == Operator.IS_NOT_SET:
        return value is None or value == ""
    if value is None or value == "":
        return False
    wanted = rule.value
    if op == Operator.EQ:
        return _same(value, wanted)
    if op == Operator.NEQ:
        return not _same(value, wanted)
    options = wanted if isinstance(wanted, list) else [wanted]
    if op == Operator.IN:
        return any(_same(value, w) for w in options)
    if op == Operator.NOT_IN:
        return not any(_same(value, w) for w in options)
    if op == Operator.CONTAINS:
        if isinstance(value, list):
            return any(_same(v, wanted) for v in value)
        return str(wanted).strip().casefold() in str(value).casefold()
    have = _order_key(value, rule.attr_type)
    if have is None:
        return False
    if op in (Operator.GTE, Operator.LTE):
        bound = _order_key(wanted, rule.attr_type)
        if bound is None:
            return False
        return bool(have >= bound) if op == Operator.GTE else bool(have <= bound)
    if op == Operator.BETWEEN and len(options) == 2:
        low, high = (_order_key(w, rule.attr_type) for w in options)
        return low is not None and high is not None and bool(low <= have <= high)
    return False


def fit_grade(score: int, *, a: int, b: int, c: int) -> str:
    """A for score ≥ a, B ≥ b, C ≥ c, else D."""
    return "A" if score >= a else "B" if score >= b else "C" if score >= c else "D"


def clamp(value: float, low: int = 0, high: int = 100) -> int:
    return int(max(low, min(high, round(value))))


@dataclass(frozen=True)
class FitResult:
    score: int
    grade: str
    reasons: list[Reason]
    matched: tuple[int, ...]  # indexes of the matching rules


def fit_reasons(rules: Sequence[FitRuleData], matched: Sequence[int]) -> list[Reason]:
    """The matching rules in words, largest effect first."""
    picked = sorted(matched, key=lambda i: (-abs(rules[i].points), i))
    return [Reason(points=rules[i].points, text=rules[i].describe()) for i in picked]


def fit_evaluate(
    rules: Sequence[FitRuleData], values: Mapping[str, Any], *, grades: tuple[int, int, int]
) -> FitResult:
    """Score one lead's attribute `values` (attribute name -> value) against `rules`."""
    matched = tuple(i for i, r in enumerate(rules) if fit_rule_matches(r, values.get(r.attribute)))
    score = clamp(sum(rules[i].points for i in matched))
    return FitResult(
        score=score,
        grade=fit_grade(score, a=grades[0], b=grades[1], c=grades[2]),
        reasons=fit_reasons(rules, matched),
        matched=matched,
    )


def fit_moves(
    rules: Sequence[FitRuleData], matched: Sequence[int], *, limit: int = 3
) -> list[Reason]:
    """What would raise the fit: rules not matching now, net of the same attribute's "is" rules
    that would stop matching (a VP title replaces a manager title), largest first."""
    raw = sum(rules[i].points for i in matched)
    now = clamp(raw)
    moves: list[Reason] = []
    for i, rule in enumerate(rules):
        if i in matched or rule.points <= 0 or rule.operator == Operator.IS_NOT_SET:
            continue
        replaced = sum(
            rules[j].points
            for j in matched
            if rules[j].attribute == rule.attribute
            and rules[j].operator in (Operator.EQ, Operator.IN, Operator.BETWEEN)
        )
        gain = clamp(raw - replaced + rule.points) - now
        if gain > 0:
            moves.append(Reason(points=gain, text=f"{rule.describe()} would add {gain} fit"))
    moves.sort(key=lambda m: -m["points"])
    return moves[:limit]


# --- Engagement ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngagementRuleData:
    id: int
    points: int
    touch_kind: str = ""
    channel: str = ""
    campaign_id: int | None = None
    content_offer_id: int | None = None
    url_contains: str = ""
    property_equals: dict[str, Any] = field(default_factory=dict)
    daily_cap: int | None = None
    label: str = ""

    def matches(self, touch: TouchFacts) -> bool:
        """All non-empty criteria hold for `touch`."""
        if self.touch_kind and touch.kind != self.touch_kind:
            return False
        if self.channel and touch.channel != self.channel:
            return False
        if self.campaign_id is not None and touch.campaign_id != self.campaign_id:
            return False
        if self.content_offer_id is not None and touch.content_offer_id != self.content_offer_id:
            return False
        if self.url_contains and self.url_contains.casefold() not in touch.url.casefold():
            return False
        return all(
            str(touch.properties.get(k, "")).casefold() == str(v).casefold()
            for k, v in self.property_equals.items()
        )

    def describe(self) -> str:
        if self.label:
            return self.label
        parts = [self.touch_kind.replace("_", " ") if self.touch_kind else "any touch"]
        if self.channel:
            parts.append(f"via {self.channel.replace('_', ' ')}")
        if self.url_contains:
            parts.append(f"on {self.url_contains}")
        for k, v in self.property_equals.items():
            parts.append(f"{k} {v}")
        return " ".join(parts)


@dataclass(frozen=True)
class TouchFacts:
    kind: str
    occurred_at: dt.datetime
    channel: str = ""
    campaign_id: int | None = None
    content_offer_id: int | None = None
    url: str = ""  # the landing page (or the page a visit was on)
    properties: Mapping[str, Any] = field(default_factory=dict)


def epoch_days(at: dt.datetime) -> float:
    """Days from ENGAGEMENT_EPOCH to `at`."""
    return (at - ENGAGEMENT_EPOCH).total_seconds() / _DAY


def day_start(at: dt.datetime) -> dt.datetime:
    at = at.astimezone(dt.UTC)
    return dt.datetime(at.year, at.month, at.day, tzinfo=dt.UTC)


def epoch_weight(at: dt.datetime, half_life_days: float) -> float:
    """2^((t - t₀)/h): a touch's weight at the epoch."""
    return math.pow(2.0, epoch_days(at) / half_life_days)


def engagement_now(total: float, at: dt.datetime, half_life_days: float) -> float:
    """E at `at` from the epoch sum S: S·2^(-(t - t₀)/h)."""
    return total * math.pow(2.0, -epoch_days(at) / half_life_days)


def engagement_score(decayed: float, scale: float) -> int:
    """100·(1 - exp(-E/k)), rounded and clamped to 0-100 (negative E gives 0)."""
    if decayed <= 0:
        return 0
    return clamp(100.0 * (1.0 - math.exp(-decayed / scale)))


def engagement_terms(
    rules: Sequence[EngagementRuleData], touch: TouchFacts, half_life_days: float
) -> list[tuple[EngagementRuleData, float]]:
    """Each matching rule with its term pᵢ·2^((tᵢ - t₀)/h) (a capped rule at the day's start)."""
    matching = [r for r in rules if r.matches(touch)]
    if not matching:
        return []
    exact = epoch_weight(touch.occurred_at, half_life_days)
    start = epoch_weight(day_start(touch.occurred_at), half_life_days)
    return [(r, r.points * (start if r.daily_cap is not None else exact)) for r in matching]


def engagement_reasons_merge(
    reasons: Sequence[Mapping[str, Any]], terms: Sequence[tuple[EngagementRuleData, float]]
) -> list[EngagementReason]:
    """The stored per-rule sums with `terms` added (one entry per rule)."""
    by_rule: dict[int, EngagementReason] = {}
    for r in reasons:
        if "rule_id" in r:
            by_rule[int(r["rule_id"])] = EngagementReason(
                points=int(r.get("points", 0)),
                text=str(r.get("text", "")),
                rule_id=int(r["rule_id"]),
                sum=float(r.get("sum", 0.0)),
                count=int(r.get("count", 0)),
            )
    for rule, term in terms:
        entry = by_rule.setdefault(
            rule.id, EngagementReason(points=0, text=rule.describe(), rule_id=rule.id, sum=0.0)
        )
        entry["sum"] = entry.get("sum", 0.0) + term
        entry["count"] = entry.get("count", 0) + 1
    return list(by_rule.values())


def engagement_reasons_at(
    reasons: Sequence[Mapping[str, Any]], *, at: dt.datetime, half_life_days: float
) -> list[Reason]:
    """The rules' contributions decayed to `at`, as rounded points, largest effect first."""
    out: list[Reason] = []
    for r in reasons:
        if "sum" not in r:
            out.append(Reason(points=int(r.get("points", 0)), text=str(r.get("text", ""))))
            continue
        points = round(engagement_now(float(r["sum"]), at, half_life_days))
        if points == 0:
            continue
        count = int(r.get("count", 0))
        text = str(r.get("text", ""))
        out.append(Reason(points=points, text=f"{text} (x{count})" if count > 1 else text))
    out.sort(key=lambda x: -abs(x["points"]))
    return out


def recency_note(
    total: float, last_touch_at: dt.datetime | None, *, at: dt.datetime, rules_h: float, k: float
) -> Reason | None:
    """ "-12 no touch in 45 days": what the score lost since the last touch (≥ 14 days ago)."""
    if last_touch_at is None:
        return None
    days = (at - last_touch_at).days
    if days < 14:
        return None
    then = engagement_score(engagement_now(total, last_touch_at, rules_h), k)
    lost = then - engagement_score(engagement_now(total, at, rules_h), k)
    if lost < 1:
        return None
    return Reason(points=-lost, text=f"no touch in {days} days")


def engagement_moves(
    rules: Sequence[EngagementRuleData], decayed: float, *, k: float, limit: int = 2
) -> list[Reason]:
    """What a new touch would add now: the best positive rules, in score points."""
    now = engagement_score(decayed, k)
    seen: set[str] = set()
    moves: list[Reason] = []
    for rule in sorted(rules, key=lambda r: -r.points):
        if rule.points <= 0 or rule.describe() in seen:
            continue
        gain = engagement_score(decayed + rule.points, k) - now
        if gain > 0:
            seen.add(rule.describe())
            moves.append(
                Reason(points=gain, text=f"a {rule.describe()} would add {gain} engagement")
            )
        if len(moves) >= limit:
            break
    return moves

"""Engagement's daily caps (how many of a rule's points a lead got today) and the words for
what caused a score to move.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from typing import Any

from django.db import connection

from leadloop.capture.models import Touch, TouchKind
from leadloop.scoring.models import EngagementCapCount
from leadloop.scoring.rules import EngagementRuleData, TouchFacts, day_start


@functools.cache
def _touch_kind_labels() -> dict[str, Any]:
    return dict(TouchKind.choices)  # lazy labels: worded in the active language when used


def touch_cause(kinds: Sequence[str]) -> str:
    labels = _touch_kind_labels()
    if len(kinds) == 1:
        return f"touch: {labels.get(kinds[0], kinds[0])}"
    return f"{len(kinds)} touches, last: {labels.get(kinds[-1], kinds[-1])}"


def cap_counted(
    *, lead_id: int, rule: EngagementRuleData, facts: TouchFacts, pending: frozenset[int]
) -> bool:
    """Count one more touch of `rule` on the touch's day unless the cap is reached.

    The row caches how many of the day's touches the rule counted; a day without a row (a
    full rescore writes none) is counted from the lead's touches of that day first, leaving
    out the `pending` ones (recorded already, being added now). Plain SQL: this runs per touch,
    under the lead's score row lock.
    """
    day = day_start(facts.occurred_at)
    table = EngagementCapCount._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count FROM {table} WHERE lead_id = %s AND rule_id = %s AND day = %s",
            [lead_id, rule.id, day.date().isoformat()],
        )
        row = cursor.fetchone()
    return cap_take(
        lead_id=lead_id, rule=rule, day=day, count=row[0] if row else None, pending=pending
    )


def cap_take(
    *,
    lead_id: int,
    rule: EngagementRuleData,
    day: dt.datetime,
    count: int | None,
    pending: frozenset[int],
) -> bool:
    """``cap_counted`` once the day's row was read: `count` is its count, None without one."""
    assert rule.daily_cap is not None
    table = EngagementCapCount._meta.db_table
    key: list[Any] = [lead_id, rule.id, day.date().isoformat()]
    with connection.cursor() as cursor:
        if count is not None:
            if count >= rule.daily_cap:
                return False
            cursor.execute(
                f"UPDATE {table} SET count = count + 1 "
                "WHERE lead_id = %s AND rule_id = %s AND day = %s",
                key,
            )
            return True
        counted = min(_day_matches(lead_id, rule, day, pending), rule.daily_cap)
        cursor.execute(
            f"INSERT INTO {table} (lead_id, rule_id, day, count) VALUES (%s, %s, %s, %s)",
            [*key, min(counted + 1, rule.daily_cap)],
        )
    return counted < rule.daily_cap


def _day_matches(
    lead_id: int, rule: EngagementRuleData, day: dt.datetime, pending: frozenset[int]
) -> int:
    """How many of the lead's touches on `day` (other than `pending`) match `rule`."""
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, kind, channel, campaign_id, content_offer_id, landing_page, properties "
            f"FROM {Touch._meta.db_table} WHERE lead_id = %s AND occurred_at >= %s "
            "AND occurred_at < %s",
            [lead_id, adapt(day), adapt(day + dt.timedelta(days=1))],
        )
        rows = cursor.fetchall()
    found = 0
    for pk, kind, channel, campaign, offer, url, props in rows:
        if pk in pending:
            continue
        properties = json.loads(props) if isinstance(props, str) else (props or {})
        facts = TouchFacts(
            kind=kind,
            occurred_at=day,
            channel=channel or "",
            campaign_id=campaign,
            content_offer_id=offer,
            url=url or "",
            properties=properties if isinstance(properties, dict) else {},
        )
        found += rule.matches(facts)
    return found

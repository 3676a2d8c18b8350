"""A batch's touches: external ids known in one query, the new ones in one ``executemany``,
first-touch sources set with one update per source.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from typing import Any

from django.db import connection
from django.utils import timezone

from leadloop.capture.models import Touch
from leadloop.capture.services import touch_external_id
from leadloop.common.database import prepared_cursor
from leadloop.leads.models import Lead
from leadloop.loop.ingest.items import IngestResult, Item
from leadloop.loop.ingest.leads import rows_in
from leadloop.loop.ingest.specs import Refs


def touches_insert(
    items: dict[int, Item], *, refs: Refs, results: list[IngestResult | None]
) -> None:
    keyed: list[tuple[int, Item, str]] = []
    for index, item in items.items():
        assert item.lead is not None
        assert item.lead.pk is not None
        keyed.append((index, item, touch_external_id(lead_id=item.lead.pk, data=item.data)))
    known: dict[str, int] = dict(
        rows_in(Touch, ("external_id", "id"), {"external_id": {key for _, _, key in keyed}})
    )
    fresh: dict[str, int] = {}  # external id → index of the item that records it
    rows: list[dict[str, Any]] = []
    first_source: dict[int, tuple[str, str]] = {}
    for index, item, key in keyed:
        if key in known or key in fresh:
            continue
        row, detail = _touch_row(item, refs=refs, external_id=key)
        fresh[key] = index
        rows.append(row)
        lead = item.lead
        assert lead is not None
        assert lead.pk is not None
        if not lead.source and row["channel"] and lead.pk not in first_source:
            first_source[lead.pk] = (row["channel"], detail)
    if rows:
        _touch_rows_insert(rows)
        known |= dict(rows_in(Touch, ("external_id", "id"), {"external_id": fresh.keys()}))
    for index, item, key in keyed:
        assert item.lead is not None
        results[index] = IngestResult(
            status="created" if fresh.get(key) == index else "duplicate",
            touch_id=known[key],
            lead_id=item.lead.pk,
        )
    sources_set(first_source)


def _touch_row(item: Item, *, refs: Refs, external_id: str) -> tuple[dict[str, Any], str]:
    """The Touch ``touch_record`` would insert, as column values, and the lead's first-touch
    source detail."""
    data, a = item.data, item.data.attribution
    campaign = refs.campaign_of(data)
    assert item.lead is not None
    row = {
        "lead_id": item.lead.pk,
        "kind": data.kind,
        "channel": data.channel or (campaign.channel if campaign and not a.source else a.channel),
        "source": a.source,
        "medium": a.medium,
        "utm_campaign": a.campaign,
        "utm_term": a.term,
        "utm_content": a.content,
        "referrer": a.referrer,
        "landing_page": a.landing_page,
        "campaign_id": campaign.pk if campaign else None,
        "content_offer_id": data.content_offer.pk if data.content_offer else None,
        "occurred_at": data.occurred_at,
        "properties": data.properties,
        "external_id": external_id,
    }
    return row, campaign.name if campaign else a.source


def _touch_rows_insert(rows: list[dict[str, Any]]) -> None:
    """Insert touch rows with one ``executemany``.

    Not ``bulk_create``: preparing 1,000 model instances field by field costs several times
    the insert itself, and ingestion is the hottest write path. Every column is named from the
    model, values are adapted by the fields' own ``get_db_prep_save`` where they are not plain.
    """
    fields = [f for f in Touch._meta.concrete_fields if not f.primary_key]
    columns = [f.attname for f in fields]
    adapt_datetime = connection.ops.adapt_datetimefield_value
    prep_properties = Touch._meta.get_field("properties").get_db_prep_save
    now = adapt_datetime(timezone.now())
    no_properties = prep_properties({}, connection)  # most touches have none
    # Column by column tests cost a third of the insert; take the row's values in column order
    # at once, then adapt the three that need it.
    take = operator.itemgetter(*(c for c in columns if c != "created_at"))
    created, at, properties = (
        columns.index(c) for c in ("created_at", "occurred_at", "properties")
    )
    values = []
    for row in rows:
        value = list(take(row))
        value.insert(created, now)
        value[at] = adapt_datetime(value[at])
        if value[properties] == {}:
            value[properties] = no_properties
        else:
            value[properties] = prep_properties(value[properties], connection)
        values.append(value)
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields if f.column)
    marks = ", ".join(["%s"] * len(fields))
    with prepared_cursor() as cursor:  # PostgreSQL: prepared once, parameters bound there
        cursor.executemany(
            f"INSERT INTO {connection.ops.quote_name(Touch._meta.db_table)} ({names}) "
            f"VALUES ({marks})",
            values,
        )


def sources_set(first: dict[int, tuple[str, str]]) -> None:
    """Set first-touch sources, once, as ``lead_source_set`` does: one update per source."""
    by_source: dict[tuple[str, str], list[int]] = defaultdict(list)
    for lead_id, pair in first.items():
        by_source[pair].append(lead_id)
    for (channel, detail), lead_ids in by_source.items():
        Lead.objects.filter(pk__in=lead_ids, source="").update(source=channel, source_detail=detail)

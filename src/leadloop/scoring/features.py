"""What the predictive model sees of a lead, as of a moment: no leakage of what came later.

A lead's *facts* (``LeadFacts``) are its fit attributes, typed custom attributes, source and
the touches it had strictly before a moment ``at``. For scoring, ``at`` is the scoring time.
For training, it is the lead's **training moment**: a moment drawn (seeded, per lead) from the
part of its life whose outcome is known, because the scorer asks its question of every lead at
any age ("reaches the outcome within the horizon from now?"). A model that only saw leads a day
after creation (or at their first MQL) never saw a lead last touched months ago; a linear model
then extrapolated such a lead to a probability of 0 (a two-year demo: 99 % of the leads).

A ``FeatureSpec`` (stored with the model) fixes the columns: categorical ones (one-hot with
rare levels grouped by the pipeline) and numeric ones (numbers as numbers, missing = NaN);
columns that never vary in the training data are dropped. ``feature_matrix`` turns facts into
the raw object matrix the fitted pipeline's ``ColumnTransformer`` reads.

Labels (``outcome_labels``), for a lead created at C, with horizon H:
    reached the outcome at R   moment s in [C, R), strictly before it; positive when
                               R - s <= H, else negative (it came, but too late)
    lost at L (its last stage  moment s in [C, max(L, now - H)]; negative
    change moved it to nurture
    or disqualified, with a
    reason)
    neither, C + H <= now      moment s in [C, now - H]; negative (nothing within H of s)
    neither, younger           unknown, left out

One moment per lead, weighted by the length of its interval (``Labelled.weight``, in days):
the scorer meets a lead on every day of its life, so a lead quiet for a year stands for more
scored leads than one won in a month. Unweighted, the long quiet lives are under-counted and
the model over-predicts the open leads (about x2 on the demo).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final

import numpy as np
from django.db import connection
from django.db.models import Field, Q

from leadloop.capture.models import SALES_TOUCH_KINDS, Channel, Touch, TouchKind
from leadloop.leads.models import AttributeDefinition, AttributeType, Company, Lead, Stage
from leadloop.lifecycle.models import StageChange

WINDOWS: Final = (7, 30, 90)  # days; plus "all" history before the moment
OUTCOMES: Final = ("customer", "sql")
MISSING: Final = "(none)"
_CHUNK: Final = 2000
_SIZE_BANDS: Final = ((10, "1-10"), (50, "11-50"), (200, "51-200"), (1000, "201-1000"))


@dataclass(frozen=True)
class TouchFact:
    kind: str
    channel: str
    content_offer_id: int | None
    occurred_at: datetime


@dataclass
class LeadFacts:
    """A lead as the model may know it at ``at``."""

    lead_id: int
    at: datetime
    source: str = ""
    country: str = ""
    seniority: str = ""
    sector: str = ""
    employee_count: int | None = None
    company_country: str = ""
    annual_revenue: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    touches: list[TouchFact] = field(default_factory=list)  # only those before `at`


@dataclass(frozen=True)
class AttributeInfo:
    key: str
    label: str
    type: str


@dataclass(frozen=True)
class FeatureSpec:
    """The model's columns: (name, human label) pairs, categorical then numeric."""

    categorical: tuple[tuple[str, str], ...]
    numeric: tuple[tuple[str, str], ...]
    booleans: frozenset[str] = frozenset()

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.categorical] + [n for n, _ in self.numeric]

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.categorical + self.numeric)


@dataclass(frozen=True)
class Labelled:
    lead_id: int
    label: int  # 1 reached the outcome within the horizon after `decision_at`, 0 did not
    decision_at: datetime  # the training moment: the facts are taken as of it
    created_at: datetime
    weight: float = 1.0  # days of the lead's life the moment was drawn from (at least 1)


# --- Labels -----------------------------------------------------------------------------------


def outcome_labels(
    *, outcome: str, horizon_days: int, now: datetime, seed: int = 0
) -> list[Labelled]:
    """Every lead whose outcome is known, labelled as of its training moment (module doc)."""
    horizon = timedelta(days=horizon_days)
    known_until = now - horizon
    lost = _lost_at()
    found: list[tuple[int, datetime, datetime, datetime | None]] = []
    rows = Lead.objects.order_by("created_at", "pk").values_list(
        "pk", "created_at", "sql_first_at", "opportunity_first_at", "customer_first_at"
    )
    for pk, created, sql, opportunity, customer in rows.iterator(chunk_size=5000):
        reached = customer if outcome == "customer" else _earliest(sql, opportunity, customer)
        if reached is not None:
            found.append((pk, created, max(reached, created), reached))
        elif pk in lost or created <= known_until:
            found.append((pk, created, max(lost.get(pk, known_until), known_until, created), None))
    share = _uniform(np.fromiter((f[0] for f in found), dtype=np.int64, count=len(found)), seed)
    out: list[Labelled] = []
    for (pk, created, last, reached), u in zip(found, share.tolist(), strict=True):
        # A moment strictly before the outcome: the lead was still open then.
        moment = created + (last - created) * u
        label = int(reached is not None and reached - moment <= horizon)
        days = max((last - created) / timedelta(days=1), 1.0)
        out.append(Labelled(pk, label, moment, created, days))
    return out


def _uniform(ids: np.ndarray, seed: int) -> np.ndarray:
    """A share in [0, 1) per id: the same id and seed always give the same share (splitmix64),
    so a lead keeps its moment when other leads are added."""
    with np.errstate(over="ignore"):
        z = ids.astype(np.uint64) + np.uint64(seed) * np.uint64(0x632BE59BD9B4E019)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _earliest(*values: datetime | None) -> datetime | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _lost_at() -> dict[int, datetime]:
    """Leads whose last stage change moved them to nurture or disqualified with a reason."""
    side = (Stage.NURTURE, Stage.DISQUALIFIED)
    last: dict[int, tuple[datetime, int, str, str]] = {}
    changes = StageChange.objects.filter(lead__stage__in=side).values_list(
        "lead_id", "at", "pk", "to_stage", "reason"
    )
    for lead_id, at, pk, to, reason in changes.iterator(chunk_size=5000):
        if lead_id not in last or (at, pk) > last[lead_id][:2]:
            last[lead_id] = (at, pk, to, reason)
    return {k: v[0] for k, v in last.items() if v[2] in side and v[3]}


# --- Facts ------------------------------------------------------------------------------------


def attribute_infos() -> list[AttributeInfo]:
    return [
        AttributeInfo(d.key, d.label, d.type)
        for d in AttributeDefinition.objects.order_by("key").only("key", "label", "type")
    ]


def lead_facts(moments: dict[int, datetime]) -> list[LeadFacts]:
    """The facts of the leads `moments` names, each as of its moment (touches before it)."""
    ids = list(moments)
    out: list[LeadFacts] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        leads = Lead.objects.filter(pk__in=chunk).select_related("company")
        touches = _touches(chunk, moments)
        for lead in leads:
            company = lead.company
            revenue = company.annual_revenue if company else None
            out.append(
                LeadFacts(
                    lead_id=lead.pk,
                    at=moments[lead.pk],
                    source=lead.source,
                    country=lead.country,
                    seniority=lead.seniority,
                    sector=company.sector if company else "",
                    employee_count=company.employee_count if company else None,
                    company_country=company.country if company else "",
                    annual_revenue=float(revenue) if revenue is not None else None,
                    attributes=lead.attributes if isinstance(lead.attributes, dict) else {},
                    touches=touches.get(lead.pk, []),
                )
            )
    order = {pk: i for i, pk in enumerate(ids)}
    out.sort(key=lambda f: order[f.lead_id])
    return out


def _touches(ids: list[int], moments: dict[int, datetime]) -> dict[int, list[TouchFact]]:
    latest = max(moments[i] for i in ids)
    rows = Touch.objects.filter(Q(lead_id__in=ids), occurred_at__lt=latest).values_list(
        "lead_id", "kind", "channel", "content_offer_id", "occurred_at"
    )
    out: dict[int, list[TouchFact]] = defaultdict(list)
    for lead_id, kind, channel, offer, at in rows.iterator(chunk_size=5000):
        if at < moments[lead_id]:  # strictly before the lead's own moment: no leakage
            out[lead_id].append(TouchFact(kind, channel, offer, at))
    return out


# --- Columns ----------------------------------------------------------------------------------


@cache
def _touch_columns() -> list[tuple[str, str]]:
    cols: list[tuple[str, str]] = []
    for kind in TouchKind:
        label = str(kind.label).lower()
        cols.append((f"touch.{kind.value}.30d", f"{label} touches in the last 30 days"))
        cols.append((f"touch.{kind.value}.all", f"{label} touches"))
    for channel in Channel:
        cols.append((f"channel.{channel.value}.all", f"touches from {str(channel.label).lower()}"))
    for days in WINDOWS:
        cols.append((f"touches.{days}d", f"touches in the last {days} days"))
    cols += [
        ("touches.all", "touches"),
        ("touches.sales", "sales touches"),
        ("touches.offers", "distinct content offers"),
        ("touches.days_since_last", "days since the last touch"),
    ]
    return cols


_BASE_CATEGORICAL: Final = (
    ("lead.source", "source"),
    ("lead.country", "country"),
    ("lead.seniority", "seniority"),
    ("company.sector", "sector"),
    ("company.size_band", "company size"),
    ("company.country", "company country"),
)
_BASE_NUMERIC: Final = (("company.annual_revenue", "annual revenue"),)


def spec_build(attributes: Sequence[AttributeInfo], facts: Sequence[LeadFacts]) -> FeatureSpec:
    """Every candidate column, less those that never vary across `facts`."""
    categorical = list(_BASE_CATEGORICAL)
    numeric = list(_BASE_NUMERIC)
    booleans: set[str] = set()
    for a in attributes:
        name = f"attr.{a.key}"
        if a.type in (AttributeType.NUMBER, AttributeType.BOOLEAN):
            numeric.append((name, a.label))
            if a.type == AttributeType.BOOLEAN:
                booleans.add(name)
        elif a.type in (AttributeType.CATEGORY, AttributeType.TEXT):
            categorical.append((name, a.label))
    numeric += _touch_columns()
    probe = FeatureSpec(tuple(categorical), tuple(numeric), frozenset(booleans))
    matrix = feature_matrix(probe, facts)
    keep = [
        j
        for j in range(matrix.shape[1])
        if len({("nan" if _isnan(v) else v) for v in matrix[:, j]}) > 1
    ]
    names = [probe.names[j] for j in keep]
    return FeatureSpec(
        tuple(c for c in categorical if c[0] in names),
        tuple(c for c in numeric if c[0] in names),
        frozenset(b for b in booleans if b in names),
    )


def _isnan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def size_band(employees: int | None) -> str:
    if employees is None:
        return MISSING
    for top, band in _SIZE_BANDS:
        if employees <= top:
            return band
    return "1001+"


def feature_row(spec: FeatureSpec, facts: LeadFacts) -> list[Any]:
    """One lead's raw values in the spec's column order (strings, then floats or NaN)."""
    values = _raw(facts)
    row: list[Any] = []
    for name, _ in spec.categorical:
        value = values.get(name)
        row.append(str(value) if value not in (None, "") else MISSING)
    for name, _ in spec.numeric:
        row.append(_number(values.get(name)))
    return row


def feature_matrix(spec: FeatureSpec, facts: Iterable[LeadFacts]) -> np.ndarray:
    rows = [feature_row(spec, f) for f in facts]
    width = len(spec.categorical) + len(spec.numeric)
    matrix = np.empty((len(rows), width), dtype=object)
    if rows:
        matrix[:, :] = rows
    return matrix


def feature_matrix_at(
    spec: FeatureSpec, lead_ids: Sequence[int], at: datetime
) -> tuple[list[int], np.ndarray]:
    """``feature_matrix(spec, lead_facts(dict.fromkeys(lead_ids, at)))`` for many leads at one
    moment (the rescoring's chunk), built column by column: two plain reads (the leads with
    their companies, the touches before `at`) and numpy counts instead of a LeadFacts and a
    TouchFact object per row. Returns the ids found (in `lead_ids` order) and the matrix."""
    wanted = list(dict.fromkeys(lead_ids))
    attr_keys = [n.removeprefix("attr.") for n in spec.names if n.startswith("attr.")]
    found = _lead_rows(wanted, with_attributes=bool(attr_keys))
    ids = [pk for pk in wanted if pk in found]
    rows = [found[pk] for pk in ids]
    n = len(ids)
    columns: dict[str, np.ndarray] = {}

    def text(values: Iterable[Any]) -> np.ndarray:
        return np.array(
            [str(v) if v not in (None, "") else MISSING for v in values], dtype=object
        ).reshape(n)

    columns["lead.source"] = text(r[1] for r in rows)
    columns["lead.country"] = text(r[2] for r in rows)
    columns["lead.seniority"] = text(r[3] for r in rows)
    columns["company.sector"] = text(r[4] for r in rows)
    columns["company.size_band"] = text(size_band(r[5]) if r[5] is not None else "" for r in rows)
    columns["company.country"] = text(r[6] for r in rows)
    columns["company.annual_revenue"] = np.array(
        [float(r[7]) if r[7] is not None else math.nan for r in rows], dtype=np.float64
    ).reshape(n)
    if attr_keys:
        attrs = [r[8] if isinstance(r[8], dict) else {} for r in rows]
        numeric = {name for name, _ in spec.numeric}
        for key in attr_keys:
            name = f"attr.{key}"
            values = [a.get(key) for a in attrs]
            columns[name] = (
                np.array([_number(v) for v in values], dtype=np.float64).reshape(n)
                if name in numeric
                else text(values)
            )
    columns.update(_touch_counts(ids, at))
    matrix = np.empty((n, len(spec.names)), dtype=object)
    for j, name in enumerate(spec.names):
        column = columns.get(name)
        if column is None:  # a custom attribute no lead has: missing everywhere
            is_numeric = j >= len(spec.categorical)
            matrix[:, j] = math.nan if is_numeric else MISSING
        elif column.dtype == object:
            matrix[:, j] = column
        else:
            matrix[:, j] = column.tolist()
    return ids, matrix


def _lead_rows(ids: Sequence[int], *, with_attributes: bool) -> dict[int, tuple[Any, ...]]:
    """(id, source, country, seniority, sector, employees, company country, revenue[,
    attributes]) by lead id: one plain read, revenue and attributes converted as the ORM
    converts them (a Decimal of the field's places, parsed JSON)."""
    if not ids:
        return {}
    lead, company = Lead._meta, Company._meta
    convert: list[tuple[int, Any, list[Any]]] = []
    converted: list[tuple[int, str, Any]] = [
        (7, company.db_table, company.get_field("annual_revenue"))
    ]
    if with_attributes:
        converted.append((8, lead.db_table, lead.get_field("attributes")))
    for position, table, model_field in converted:
        assert isinstance(model_field, Field)
        col = model_field.get_col(table)
        found = connection.ops.get_db_converters(col) + model_field.get_db_converters(connection)
        convert.append((position, col, found))
    sql = (
        "SELECT l.id, l.source, l.country, l.seniority, c.sector, c.employee_count, c.country, "
        f"c.annual_revenue{', l.attributes' if with_attributes else ''} FROM {lead.db_table} l "
        f"LEFT JOIN {company.db_table} c ON c.id = l.company_id WHERE {{where}}"
    )
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if _dense(ids):
            cursor.execute(sql.format(where="l.id >= %s AND l.id <= %s"), [min(ids), max(ids)])
            rows = cursor.fetchall()
        else:
            for i in range(0, len(ids), _CHUNK):
                part = list(ids[i : i + _CHUNK])
                marks = ", ".join(["%s"] * len(part))
                cursor.execute(sql.format(where=f"l.id IN ({marks})"), part)
                rows += cursor.fetchall()
    out: dict[int, tuple[Any, ...]] = {}
    for row in rows:
        if row[7] is not None or with_attributes:
            values = list(row)
            for position, col, converters in convert:
                for converter in converters:
                    values[position] = converter(values[position], col, connection)
            row = tuple(values)
        out[row[0]] = row
    return out


def _dense(ids: Sequence[int]) -> bool:
    """Whether reading the id range of `ids` reads little else: at most twice as many ids."""
    return max(ids) - min(ids) + 1 <= 2 * len(ids)


def _touch_rows_before(ids: Sequence[int], at: datetime) -> list[tuple[Any, ...]]:
    """(lead_id, kind, channel, content_offer_id, the time as stored) of the leads' touches
    strictly before `at`; with an id range, touches of other leads in the range too."""
    if not ids:
        return []
    if connection.vendor == "postgresql":
        when = "(EXTRACT(EPOCH FROM occurred_at) * 1000000)::bigint"
    else:  # as text: numpy parses it, the driver would make a datetime of each
        when = "CAST(occurred_at AS TEXT)"
    sql = (
        f"SELECT lead_id, kind, channel, content_offer_id, {when} FROM {Touch._meta.db_table} "
        "WHERE {where} AND occurred_at < %s"
    )
    stamp = connection.ops.adapt_datetimefield_value(at)
    out: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if _dense(ids):
            cursor.execute(
                sql.format(where="lead_id >= %s AND lead_id <= %s"), [min(ids), max(ids), stamp]
            )
            return cursor.fetchall()
        for i in range(0, len(ids), _CHUNK):
            part = list(ids[i : i + _CHUNK])
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(sql.format(where=f"lead_id IN ({marks})"), [*part, stamp])
            out += cursor.fetchall()
    return out


def _micros(values: list[Any]) -> np.ndarray:
    """Microseconds since 1970 of the touches' times as the database returned them."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    if isinstance(values[0], str):  # SQLite: naive UTC text
        return np.array(values, dtype="datetime64[us]").astype(np.int64)
    if isinstance(values[0], datetime):
        return np.array(
            [_micros_of(v if v.tzinfo else v.replace(tzinfo=UTC)) for v in values], dtype=np.int64
        )
    return np.array(values, dtype=np.int64)


_UNIX: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _micros_of(at: datetime) -> int:
    return (at - _UNIX) // timedelta(microseconds=1)


def _touch_counts(ids: Sequence[int], at: datetime) -> dict[str, np.ndarray]:
    """Every touch column of ``_raw`` for the leads `ids` at `at`, as float arrays."""
    n = len(ids)
    rows = _touch_rows_before(ids, at)
    order = np.asarray(ids, dtype=np.int64)
    sorter = np.argsort(order, kind="stable")
    lead_ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    place = np.searchsorted(order, lead_ids, sorter=sorter).clip(0, max(n - 1, 0))
    ours = order[sorter[place]] == lead_ids if n else np.zeros(len(rows), dtype=bool)
    if not ours.all():  # an id range read touches of leads not asked for
        rows = [r for r, keep in zip(rows, ours.tolist(), strict=True) if keep]
        lead_ids, place = lead_ids[ours], place[ours]
    lead = sorter[place]
    micros = _micros([r[4] for r in rows])
    age = (_micros_of(at) - micros).astype(np.float64) / 1e6 / 86400
    out: dict[str, np.ndarray] = {}

    def count(mask: np.ndarray | None = None) -> np.ndarray:
        chosen = lead if mask is None else lead[mask]
        return np.bincount(chosen, minlength=n).astype(np.float64)

    recent = age <= 30
    for position, prefix in ((1, "touch"), (2, "channel")):
        levels, code = np.unique(
            np.array([r[position] for r in rows], dtype=str), return_inverse=True
        )
        width = max(len(levels), 1)
        every = np.bincount(lead * width + code, minlength=n * width).reshape(n, width)
        last30 = np.bincount(lead[recent] * width + code[recent], minlength=n * width).reshape(
            n, width
        )
        for k, level in enumerate(levels.tolist()):
            out[f"{prefix}.{level}.all"] = every[:, k].astype(np.float64)
            if prefix == "touch":
                out[f"touch.{level}.30d"] = last30[:, k].astype(np.float64)
    for name, _label in _touch_columns():
        if name.startswith(("touch.", "channel.")) and name not in out:
            out[name] = np.zeros(n)
    sales = np.isin(np.array([r[1] for r in rows], dtype=str), [str(k) for k in SALES_TOUCH_KINDS])
    for days in WINDOWS:
        out[f"touches.{days}d"] = count(age <= days)
    out["touches.all"] = count()
    out["touches.sales"] = count(sales)
    offers = np.array([-1 if r[3] is None else r[3] for r in rows], dtype=np.int64)
    has = offers >= 0
    pairs = np.unique(np.stack([lead[has], offers[has]]), axis=1) if has.any() else None
    out["touches.offers"] = (
        np.bincount(pairs[0], minlength=n).astype(np.float64) if pairs is not None else np.zeros(n)
    )
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last, lead, micros)
    touched = last != np.iinfo(np.int64).min
    since = np.full(n, math.nan)
    since[touched] = (_micros_of(at) - last[touched]).astype(np.float64) / 1e6 / 86400
    out["touches.days_since_last"] = since
    return out


def _number(value: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


def _raw(f: LeadFacts) -> dict[str, Any]:
    """Every candidate column's value for one lead (absent = missing)."""
    values: dict[str, Any] = {
        "lead.source": f.source,
        "lead.country": f.country,
        "lead.seniority": f.seniority,
        "company.sector": f.sector,
        "company.size_band": size_band(f.employee_count) if f.employee_count is not None else "",
        "company.country": f.company_country,
        "company.annual_revenue": f.annual_revenue,
    }
    for key, value in f.attributes.items():
        values[f"attr.{key}"] = value
    counts: dict[str, float] = defaultdict(float)
    offers: set[int] = set()
    last: datetime | None = None
    for t in f.touches:
        age = (f.at - t.occurred_at).total_seconds() / 86400
        counts[f"touch.{t.kind}.all"] += 1
        counts[f"channel.{t.channel}.all"] += 1
        counts["touches.all"] += 1
        if age <= 30:
            counts[f"touch.{t.kind}.30d"] += 1
        for days in WINDOWS:
            if age <= days:
                counts[f"touches.{days}d"] += 1
        if t.kind in SALES_TOUCH_KINDS:
            counts["touches.sales"] += 1
        if t.content_offer_id is not None:
            offers.add(t.content_offer_id)
        last = t.occurred_at if last is None or t.occurred_at > last else last
    counts["touches.offers"] = len(offers)
    for name, _ in _touch_columns():
        values[name] = counts.get(name, 0.0)
    values["touches.days_since_last"] = (
        (f.at - last).total_seconds() / 86400 if last is not None else math.nan
    )
    return values


def feature_phrase(spec: FeatureSpec, name: str, value: Any) -> tuple[str, bool]:
    """Plain words for a column's value, and whether the words are plural ("3 webinars")."""
    label = spec.labels.get(name, name)
    if name.startswith(("touch.", "channel.", "touches.")) and name != "touches.days_since_last":
        n = 0.0 if _isnan(value) else float(value)
        if n == 0:
            return f"no {label}", True
        if n == 1:  # "1 demo touch", "1 touch from e-mail", "1 distinct content offer"
            return f"1 {label.replace('touches', 'touch', 1).replace('offers', 'offer', 1)}", False
        return f"{n:g} {label}", True
    if name == "touches.days_since_last":
        if _isnan(value):
            return "no touch yet", False
        return f"last touch {float(value):.0f} days ago", False
    if name in spec.booleans:
        if _isnan(value):
            return f"{label} unknown", False
        return f"{label}: {'yes' if value else 'no'}", False
    if isinstance(value, float):
        if math.isnan(value):
            return f"{label} unknown", False
        return f"{label} {value:,.4g}", False
    if value == MISSING:
        return f"{label} unknown", False
    return f"{label} {value}", False

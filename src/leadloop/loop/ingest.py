"""Touch ingestion: one touch, or a batch of up to 1,000, for leads found or created on the way.

Each touch means the same as ``loop.services.lead_capture`` with the lead's identity and the
touch: the lead is found by normalised e-mail, else by external id (or by its id), created when
new (entering the lifecycle at the touch's time), and the touch is recorded once.

``touches_ingest`` gets there in bulk, in one transaction:

    1. check every item (time, e-mail, identity, campaign and offer slugs): bad ones are
       answered with their errors and take no further part
    2. load the batch's leads in two queries, then replay the items in order in memory: which
       lead each item finds, which leads are new, which known leads gain an e-mail, external
       id or company (as ``lead_upsert`` would fill them in)
    3. companies of the new and filled-in leads: one query, one bulk insert of the missing
    4. new leads and their lifecycle entries in bulk (``lifecycle.stage_history_load``)
    5. touch external ids (``capture.touch_external_id``), the known ones in one query; new
       touches in one bulk insert; first-touch sources set with one update per source

Anything unusual — a row another request inserted meanwhile (IntegrityError), an entry ahead
of the server's clock — rolls the bulk attempt back and the batch runs item by item through
``lead_capture``, each item in its own savepoint: slower, with the same result.
"""

from __future__ import annotations

import functools
import operator
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from leadloop.accounts.models import Team, User
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.capture.attribution import Attribution, attribution_parse, channel_for
from leadloop.capture.models import Campaign, Touch
from leadloop.capture.services import TouchInput, TouchInvalid, touch_external_id
from leadloop.common.errors import LeadloopError, NotFound
from leadloop.content.models import ContentOffer
from leadloop.leads.models import Company, Lead, Stage
from leadloop.leads.services import (
    LeadData,
    LeadIdentityMissing,
    domain_normalize,
    email_normalize,
    is_free_mail,
)
from leadloop.lifecycle.services import HistoryInvalid, HistoryStep, stage_history_load
from leadloop.loop.lifecycle import QUALIFYING_STAGES, TouchFacts, hand_raiser, lead_qualify_if_due
from leadloop.loop.owners import marketing_queue
from leadloop.loop.services import Captured, lead_capture
from leadloop.scoring.models import LeadScore
from leadloop.scoring.services import scores_touches_record
from leadloop.sla.services import CONTACT_TOUCH_KINDS, clocks_on_touch
from leadloop.webhooks.services import webhook_stage_changes_emit

BATCH_MAX: Final = 1000
# A touch may be stamped a little ahead of the server's clock: the sender's clock drifts.
CLOCK_SKEW: Final = timedelta(minutes=5)
_SOURCE_MAX, _MEDIUM_MAX = 100, 100  # Touch.source, Touch.medium


class BatchTooLarge(LeadloopError):
    code = "batch_too_large"
    status = 422


class IngestConflict(LeadloopError):
    code = "conflict"


# --- Input ----------------------------------------------------------------------------------


def occurred_at_check(value: datetime, *, now: datetime | None = None) -> None:
    """Raise TouchInvalid (loc ``occurred_at``) unless `value` is aware and not in the future.

    A batch checks 1,000 times: pass its `now` rather than reading the clock for each.
    """
    if value.utcoffset() is None:  # timezone.is_naive, without its call
        raise TouchInvalid(
            f"occurred_at {value.isoformat()!r} has no time zone: send an aware ISO 8601 time "
            "such as 2026-05-04T09:30:00Z or 2026-05-04T11:30:00+02:00.",
            loc=("occurred_at",),
        )
    limit = (now or timezone.now()) + CLOCK_SKEW
    if value > limit:
        raise TouchInvalid(
            f"occurred_at {value.isoformat()!r} is in the future (the server's time is "
            f"{(limit - CLOCK_SKEW).isoformat()}; up to {CLOCK_SKEW.seconds // 60} minutes "
            "of clock skew are accepted).",
            loc=("occurred_at",),
        )


@functools.lru_cache(maxsize=4096)
def _parsed(landing_page: str, referrer: str) -> Attribution:
    # A batch repeats the same campaign links; Attribution is frozen, so sharing it is safe.
    return attribution_parse(landing_page=landing_page, referrer=referrer)


def attribution_resolve(
    *,
    landing_page: str = "",
    referrer: str = "",
    source: str = "",
    medium: str = "",
    campaign: str = "",
    term: str = "",
    content: str = "",
) -> Attribution:
    """Attribution from the landing page and referrer, with explicitly sent values winning.

    An explicit source or medium replaces the parsed pair (and decides the channel); explicit
    UTM campaign, term and content replace the parsed ones one by one.
    """
    parsed = _parsed(landing_page, referrer)
    if not (source or medium or campaign or term or content):
        return parsed  # nothing explicit, the usual case: the shared parsed value as it is
    source, medium = source.strip(), medium.strip()
    if source or medium:
        pair = (source, medium)
        channel = channel_for(source=source, medium=medium)
    else:
        pair = (parsed.source, parsed.medium)
        channel = parsed.channel
    return Attribution(
        source=pair[0][:_SOURCE_MAX],
        medium=pair[1][:_MEDIUM_MAX],
        campaign=campaign.strip()[:200] or parsed.campaign,
        term=term.strip()[:200] or parsed.term,
        content=content.strip()[:200] or parsed.content,
        channel=channel,
        referrer=parsed.referrer,
        landing_page=parsed.landing_page,
    )


@dataclass(frozen=True)
class TouchSpec:
    """One touch as a client sends it: the lead's identity, the touch, references by slug."""

    kind: str
    occurred_at: datetime
    attribution: Attribution = field(default_factory=Attribution)
    lead_id: int | None = None
    email: str = ""
    lead_external_id: str = ""
    channel: str = ""
    campaign: str = ""  # a campaign's slug; else found by utm_campaign
    content_offer: str = ""  # a content offer's slug
    properties: dict[str, Any] = field(default_factory=dict)
    external_id: str = ""  # the touch's


@dataclass(frozen=True)
class _Refs:
    campaigns: dict[str, Campaign]
    offers: dict[str, ContentOffer]

    @classmethod
    def load(cls, specs: Iterable[TouchSpec]) -> _Refs:
        specs = list(specs)
        slugs = {s.campaign.strip().lower() for s in specs if s.campaign.strip()}
        slugs |= {s.attribution.campaign.lower() for s in specs if s.attribution.campaign}
        offers = {s.content_offer.strip() for s in specs if s.content_offer.strip()}
        return cls(
            campaigns={c.slug: c for c in Campaign.objects.filter(slug__in=slugs)} if slugs else {},
            offers={o.slug: o for o in ContentOffer.objects.filter(slug__in=offers)}
            if offers
            else {},
        )

    def touch_input(self, spec: TouchSpec) -> TouchInput:
        """The TouchInput of `spec`; raises NotFound naming an unknown campaign or offer."""
        campaign = offer = None
        if spec.campaign.strip():
            campaign = self.campaigns.get(spec.campaign.strip().lower())
            if campaign is None:
                raise NotFound(f"No campaign with the slug {spec.campaign!r}.", loc=("campaign",))
        if spec.content_offer.strip():
            offer = self.offers.get(spec.content_offer.strip())
            if offer is None:
                raise NotFound(
                    f"No content offer with the slug {spec.content_offer!r}.",
                    loc=("content_offer",),
                )
        return TouchInput(
            kind=spec.kind,
            occurred_at=spec.occurred_at,
            attribution=spec.attribution,
            channel=spec.channel,
            campaign=campaign,
            content_offer=offer,
            properties=spec.properties,
            external_id=spec.external_id,
        )

    def campaign_of(self, data: TouchInput) -> Campaign | None:
        """The campaign ``touch_record`` would link: the given one, else by utm_campaign."""
        if data.campaign is not None or not data.attribution.campaign:
            return data.campaign
        return self.campaigns.get(data.attribution.campaign.lower())


# --- One touch, one lead --------------------------------------------------------------------


def _lead_data(*, lead_id: int | None, email: str, external_id: str) -> LeadData:
    if lead_id is None:
        return LeadData(email=email, external_id=external_id)
    lead = Lead.objects.filter(pk=lead_id).only("email", "external_id").first()
    if lead is None:
        raise NotFound(f"No lead with id {lead_id}.", loc=("lead_id",))
    return LeadData(email=lead.email or "", external_id=lead.external_id or "")


def lead_ingest(
    *, data: LeadData, touch: TouchSpec | None, actor: User | None, rule: str = "api"
) -> Captured:
    """Create or update a lead (and record its touch) with ``lead_capture``; slugs resolved.

    Raises what ``lead_capture`` raises, TouchInvalid for a bad time and NotFound for an
    unknown campaign or content offer.
    """
    data_touch = None
    if touch is not None:
        occurred_at_check(touch.occurred_at)
        data_touch = _Refs.load([touch]).touch_input(touch)
    return lead_capture(data=data, touch=data_touch, actor=actor, rule=rule)


def touch_capture(*, spec: TouchSpec, actor: User | None, rule: str = "api") -> Captured:
    """Record one touch for the lead of `spec` (by id, else e-mail or external id; created
    when new) with ``lead_capture``. Raises as ``lead_ingest``, and NotFound for a lead id."""
    occurred_at_check(spec.occurred_at)
    data = _lead_data(lead_id=spec.lead_id, email=spec.email, external_id=spec.lead_external_id)
    return lead_capture(
        data=data, touch=_Refs.load([spec]).touch_input(spec), actor=actor, rule=rule
    )


# --- A batch ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemError:
    loc: tuple[str | int, ...]  # within the item: ("occurred_at",)
    msg: str
    type: str

    @classmethod
    def of(cls, exc: LeadloopError) -> ItemError:
        return cls(loc=exc.loc, msg=exc.message, type=exc.code)


@dataclass(frozen=True)
class IngestResult:
    status: Literal["created", "duplicate", "error"]
    touch_id: int | None = None
    lead_id: int | None = None
    errors: tuple[ItemError, ...] = ()


_NO_ENTRY: Final = datetime.min.replace(tzinfo=UTC)


@dataclass(eq=False)
class _LeadRef:
    """What a batch needs of a lead; a Lead instance would cost more than the rest of a touch."""

    pk: int | None  # None until a new lead is inserted
    email: str | None
    external_id: str | None
    company_id: int | None
    source: str
    filled: list[str] = field(default_factory=list)  # fields a known lead gains
    company_domain: str = ""  # the domain of the company it gains (its id: company_id)
    entry_at: datetime = _NO_ENTRY  # a new lead's entry into the lifecycle: its first touch


@dataclass
class _Item:
    """One checked item of a batch while it is being ingested."""

    spec: TouchSpec
    data: TouchInput
    email: str  # normalised
    external_id: str  # the lead's, trimmed
    lead: _LeadRef | None = None


@transaction.atomic
def touches_ingest(
    *, specs: Sequence[TouchSpec], actor: User | None, rule: str = "api"
) -> list[IngestResult]:
    """Ingest up to BATCH_MAX touches; one result per spec, in order. A bad item is answered
    with its errors and never blocks the others. Raises BatchTooLarge."""
    if len(specs) > BATCH_MAX:
        raise BatchTooLarge(
            f"A batch holds at most {BATCH_MAX} items; this one has {len(specs)}. "
            "Split it into several requests.",
            loc=("items",),
        )
    now = timezone.now()
    refs = _Refs.load(specs)
    results: list[IngestResult | None] = [None] * len(specs)
    items = _items_check(specs, refs=refs, now=now, results=results)
    try:
        with transaction.atomic():
            _ingest_bulk(items, refs=refs, actor=actor, rule=rule, results=results)
    except (IntegrityError, HistoryInvalid):
        # Another request wrote one of these leads or touches meanwhile, or a new lead's entry
        # lies (within the accepted skew) ahead of the clock: the reference path, item by item.
        _ingest_each(items, actor=actor, rule=rule, results=results)
    return [r if r is not None else IngestResult(status="error") for r in results]


def _items_check(
    specs: Sequence[TouchSpec], *, refs: _Refs, now: datetime, results: list[IngestResult | None]
) -> dict[int, _Item]:
    items: dict[int, _Item] = {}
    normalized: dict[str, str] = {}  # a batch names the same people many times
    for index, spec in enumerate(specs):
        try:
            occurred_at_check(spec.occurred_at, now=now)
            email = normalized.get(spec.email, "")
            if not email and spec.email.strip():
                email = normalized[spec.email] = email_normalize(spec.email)
            external_id = spec.lead_external_id.strip()
            if spec.lead_id is None and not email and not external_id:
                raise LeadIdentityMissing(
                    "A touch needs its lead: lead_id, email or lead_external_id.", loc=("email",)
                )
            items[index] = _Item(spec, refs.touch_input(spec), email, external_id)
        except LeadloopError as exc:
            results[index] = IngestResult(status="error", errors=(ItemError.of(exc),))
    return items


def _ingest_each(
    items: dict[int, _Item], *, actor: User | None, rule: str, results: list[IngestResult | None]
) -> None:
    for index, item in items.items():
        try:
            with transaction.atomic():
                captured = touch_capture(spec=item.spec, actor=actor, rule=rule)
        except LeadloopError as exc:
            results[index] = IngestResult(status="error", errors=(ItemError.of(exc),))
            continue
        except IntegrityError:
            conflict = IngestConflict(
                "This touch's lead conflicts with another lead: its e-mail or external id "
                "belongs to a different lead.",
                loc=("lead_external_id",),
            )
            results[index] = IngestResult(status="error", errors=(ItemError.of(conflict),))
            continue
        assert captured.touch is not None
        results[index] = IngestResult(
            status="created" if captured.touch_created else "duplicate",
            touch_id=captured.touch.pk,
            lead_id=captured.lead.pk,
        )


def _ingest_bulk(
    items: dict[int, _Item],
    *,
    refs: _Refs,
    actor: User | None,
    rule: str,
    results: list[IngestResult | None],
) -> None:
    _leads_by_id(items, results=results)
    leads = _leads_replay(items)
    _companies_attach(leads)
    agreement = agreement_in_force()
    _leads_write(leads, actor=actor, rule=rule, queue=marketing_queue(agreement))
    _touches_insert(items, refs=refs, results=results)
    # The new touches' engagement terms in bulk; fit for new leads and those that gained a company.
    scores = scores_touches_record(
        touch_ids=[r.touch_id for r in results if r and r.status == "created" and r.touch_id],
        refit_lead_ids=[ref.pk for ref in leads if ref.company_domain and ref.pk is not None],
    )
    _qualify(items, results=results, scores=scores, agreement=agreement)


def _qualify(
    items: dict[int, _Item],
    *,
    results: list[IngestResult | None],
    scores: Mapping[int, LeadScore],
    agreement: AgreementInForce,
) -> None:
    """Qualify the leads a new touch raised a hand for, or whose scores now meet the thresholds."""
    raised: dict[int, TouchFacts] = {}
    # A batch repeats a handful of kinds, forms and offers: one TouchFacts and one hand-raiser
    # answer for each.
    seen: dict[tuple[str, str, str], tuple[TouchFacts, bool]] = {}
    for index, item in items.items():
        result = results[index]
        if result is None or result.status != "created" or result.lead_id is None:
            continue
        key = (
            item.data.kind,
            str(item.data.properties.get("form", "")) if item.data.properties else "",
            item.data.content_offer.kind if item.data.content_offer else "",
        )
        if key not in seen:
            facts = TouchFacts(kind=key[0], form_slug=key[1], content_kind=key[2])
            seen[key] = (facts, hand_raiser(agreement, facts) is not None)
        facts, raises_hand = seen[key]
        if raises_hand:
            raised.setdefault(result.lead_id, facts)
        if item.data.kind in CONTACT_TOUCH_KINDS and result.touch_id is not None:
            clocks_on_touch(touch_id=result.touch_id)  # a rep's contact attempt
    wanted = set(raised) | {pk for pk, score in scores.items() if score.qualifies}
    if not wanted:
        return
    for lead in Lead.objects.filter(pk__in=wanted, stage__in=QUALIFYING_STAGES).order_by("pk"):
        lead_qualify_if_due(
            lead=lead,
            score=scores.get(lead.pk),
            touch=raised.get(lead.pk),
            agreement=agreement,
            route_after_commit=True,  # the batch's transaction holds no rule's cursor
        )


def _leads_write(leads: list[_LeadRef], *, actor: User | None, rule: str, queue: Team) -> None:
    """Insert the new leads with their lifecycle entries; save what known leads gained."""
    new = [ref for ref in leads if ref.pk is None]
    if new:
        actor_id = actor.pk if actor else None
        rows = [_lead_new(ref, queue=queue) for ref in new]
        entries = stage_history_load(
            histories=[
                (lead, [HistoryStep(to=Stage.LEAD, at=ref.entry_at, actor_id=actor_id, rule=rule)])
                for lead, ref in zip(rows, new, strict=True)
            ]
        )
        for lead, ref in zip(rows, new, strict=True):
            ref.pk, ref.filled = lead.pk, []  # a new lead was inserted with all it gained
        webhook_stage_changes_emit(changes=entries)
    for ref in leads:
        if ref.filled and ref.pk is not None:
            lead = Lead.objects.get(pk=ref.pk)
            lead.email, lead.external_id = ref.email, ref.external_id
            if ref.company_domain:
                lead.company_id = ref.company_id
            lead.save(update_fields=[*ref.filled, "updated_at"])


def _lead_new(ref: _LeadRef, *, queue: Team) -> Lead:
    """The unsaved Lead of a new `ref`, in its queue."""
    # Set after construction: Model.__init__ with keyword arguments looks each of the 40-odd
    # fields up among them, a third more than the whole lead costs this way.
    lead = Lead()
    lead.email, lead.external_id, lead.company_id, lead.queue = (
        ref.email,
        ref.external_id,
        ref.company_id,
        queue,
    )
    return lead


def _leads_by_id(items: dict[int, _Item], *, results: list[IngestResult | None]) -> None:
    """Give items sent with a lead id that lead's identity, as ``touch_capture`` does."""
    ids = {item.spec.lead_id for item in items.values() if item.spec.lead_id is not None}
    if not ids:
        return
    known = {
        pk: (email or "", xid or "")
        for pk, email, xid in Lead.objects.filter(pk__in=ids).values_list(
            "pk", "email", "external_id"
        )
    }
    for index, item in list(items.items()):
        if item.spec.lead_id is None:
            continue
        if item.spec.lead_id not in known:
            exc = NotFound(f"No lead with id {item.spec.lead_id}.", loc=("lead_id",))
            results[index] = IngestResult(status="error", errors=(ItemError.of(exc),))
            del items[index]
        else:
            item.email, item.external_id = known[item.spec.lead_id]


def _company_domain(email: str) -> str:
    """The domain ``company_resolve(email=…)`` would use, or "" when it would give None."""
    domain = domain_normalize(email) if email else ""
    return "" if not domain or "." not in domain or is_free_mail(domain) else domain


def _leads_replay(items: dict[int, _Item]) -> list[_LeadRef]:
    """Find each item's lead as ``lead_upsert`` would, in order: the known leads, the new ones
    (entering at their first item's time), and what each gains (e-mail, external id, company).
    """
    emails = {i.email for i in items.values() if i.email}
    xids = {i.external_id for i in items.values() if i.external_id}
    by_email: dict[str, _LeadRef] = {}
    by_xid: dict[str, _LeadRef] = {}
    leads: list[_LeadRef] = []
    if emails or xids:
        matches = _rows_in(
            Lead,
            ("id", "email", "external_id", "company_id", "source"),
            {"email": emails, "external_id": xids},
        )
        for row in matches:
            ref = _LeadRef(*row)
            leads.append(ref)
            if ref.email:
                by_email[ref.email] = ref
            if ref.external_id:
                by_xid[ref.external_id] = ref
    for item in items.values():
        found = _lead_find(by_email, by_xid, email=item.email, external_id=item.external_id)
        if found is not None:
            ref = found
        else:
            ref = _LeadRef(None, item.email or None, item.external_id or None, None, "")
            ref.entry_at = item.data.occurred_at
            leads.append(ref)
        if item.email and ref.email is None:
            ref.email = item.email
            ref.filled.append("email")
        if item.external_id and ref.external_id is None:
            ref.external_id = item.external_id
            ref.filled.append("external_id")
        if ref.email:
            by_email.setdefault(ref.email, ref)
        if ref.external_id:
            by_xid.setdefault(ref.external_id, ref)
        if ref.company_id is None and not ref.company_domain and item.email:
            domain = _company_domain(item.email)
            if domain:
                ref.company_domain = domain  # resolved in bulk next
                ref.filled.append("company")
        item.lead = ref
    return leads


def _lead_find(
    by_email: dict[str, _LeadRef], by_xid: dict[str, _LeadRef], *, email: str, external_id: str
) -> _LeadRef | None:
    """As ``leads.services.lead_find``: by normalised e-mail, else by external id."""
    return (by_email.get(email) if email else None) or (
        by_xid.get(external_id) if external_id else None
    )


def _companies_attach(leads: list[_LeadRef]) -> None:
    """Resolve the companies leads gain by domain, creating the missing ones in bulk."""
    wanted = {ref.company_domain for ref in leads if ref.company_domain}
    if not wanted:
        return
    known: dict[str, int] = dict(_rows_in(Company, ("domain", "id"), {"domain": wanted}))
    missing = [Company(domain=d, name=d) for d in wanted if d not in known]
    if missing:
        Company.objects.bulk_create(missing, ignore_conflicts=True)
        known = dict(_rows_in(Company, ("domain", "id"), {"domain": wanted}))
    for ref in leads:
        if ref.company_domain:
            ref.company_id = known[ref.company_domain]


def _touches_insert(
    items: dict[int, _Item], *, refs: _Refs, results: list[IngestResult | None]
) -> None:
    keyed: list[tuple[int, _Item, str]] = []
    for index, item in items.items():
        assert item.lead is not None
        assert item.lead.pk is not None
        keyed.append((index, item, touch_external_id(lead_id=item.lead.pk, data=item.data)))
    known: dict[str, int] = dict(
        _rows_in(Touch, ("external_id", "id"), {"external_id": {key for _, _, key in keyed}})
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
        known |= dict(_rows_in(Touch, ("external_id", "id"), {"external_id": fresh.keys()}))
    for index, item, key in keyed:
        assert item.lead is not None
        results[index] = IngestResult(
            status="created" if fresh.get(key) == index else "duplicate",
            touch_id=known[key],
            lead_id=item.lead.pk,
        )
    _sources_set(first_source)


def _touch_row(item: _Item, *, refs: _Refs, external_id: str) -> tuple[dict[str, Any], str]:
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
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {connection.ops.quote_name(Touch._meta.db_table)} ({names}) "
            f"VALUES ({marks})",
            values,
        )


def _sources_set(first: dict[int, tuple[str, str]]) -> None:
    """Set first-touch sources, once, as ``lead_source_set`` does: one update per source."""
    by_source: dict[tuple[str, str], list[int]] = defaultdict(list)
    for lead_id, pair in first.items():
        by_source[pair].append(lead_id)
    for (channel, detail), lead_ids in by_source.items():
        Lead.objects.filter(pk__in=lead_ids, source="").update(source=channel, source_detail=detail)


def _rows_in(
    model: type[models.Model], columns: Sequence[str], where: Mapping[str, Collection[Any]]
) -> list[tuple[Any, ...]]:
    """The `columns` (attribute names) of `model`'s rows whose value in any `where` column is
    among its values: one raw SELECT (none when every collection is empty).

    Not the ORM's ``__in``: it prepares a lookup parameter per value, which for the 1,000 values
    of a batch costs several times the query. The values here are plain strings or ints.
    """
    quote = connection.ops.quote_name
    column = {f.attname: quote(f.column) for f in model._meta.concrete_fields if f.column}
    conditions: list[str] = []
    params: list[Any] = []
    for name, values in where.items():
        if values:
            conditions.append(f"{column[name]} IN ({', '.join(['%s'] * len(values))})")
            params.extend(values)
    if not conditions:
        return []
    names = ", ".join(column[name] for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {names} FROM {quote(model._meta.db_table)} WHERE {' OR '.join(conditions)}",
            params,
        )
        return cursor.fetchall()

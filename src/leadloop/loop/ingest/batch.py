"""A batch of touches in one transaction (the module docstring of ``loop.ingest`` has the
steps), or item by item when the bulk attempt meets anything unusual.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.capture.services import TouchInput
from leadloop.common.errors import LeadloopError
from leadloop.leads.models import Lead
from leadloop.leads.services import LeadData, LeadIdentityMissing, email_normalize
from leadloop.lifecycle.services import HistoryInvalid
from leadloop.loop.ingest.items import IngestResult, Item, ItemError
from leadloop.loop.ingest.leads import companies_attach, leads_by_id, leads_replay, leads_write
from leadloop.loop.ingest.single import touch_capture
from leadloop.loop.ingest.specs import (
    BATCH_MAX,
    BatchTooLarge,
    IngestConflict,
    Refs,
    TouchSpec,
    occurred_at_check,
)
from leadloop.loop.ingest.touches import touches_insert
from leadloop.loop.lifecycle import QUALIFYING_STAGES, TouchFacts, hand_raiser, lead_qualify_if_due
from leadloop.loop.owners import marketing_queue
from leadloop.loop.services import lead_capture
from leadloop.scoring.models import LeadScore
from leadloop.scoring.services import scores_touches_record
from leadloop.sla.services import CONTACT_TOUCH_KINDS, clocks_on_touch


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
    refs = Refs.load(specs)
    results: list[IngestResult | None] = [None] * len(specs)
    items = _items_check(specs, refs=refs, now=timezone.now(), results=results)
    return _ingest(items, refs=refs, actor=actor, rule=rule, results=results)


@transaction.atomic
def captures_ingest(
    *, captures: Sequence[tuple[LeadData, TouchInput]], rule: str
) -> list[IngestResult]:
    """``loop.services.lead_capture`` of each (lead data, touch) pair, in bulk, in one
    transaction: the same leads (fields, company, consent, attributes, lifecycle entry at the
    touch's time), touches, scores and qualifications. One result per pair, in order; a bad
    one (its identity, a conflict) is answered with its errors and never blocks the others.
    """
    specs = [
        TouchSpec(
            kind=touch.kind,
            occurred_at=touch.occurred_at,
            attribution=touch.attribution,
            email=data.email,
            lead_external_id=data.external_id,
            properties=touch.properties,
            external_id=touch.external_id,
        )
        for data, touch in captures
    ]
    refs = Refs.load(specs)
    results: list[IngestResult | None] = [None] * len(specs)
    items = _items_check(specs, refs=refs, now=timezone.now(), results=results)
    for index, item in items.items():
        item.lead_data, item.data = captures[index]
    return _ingest(items, refs=refs, actor=None, rule=rule, results=results)


def _ingest(
    items: dict[int, Item],
    *,
    refs: Refs,
    actor: User | None,
    rule: str,
    results: list[IngestResult | None],
) -> list[IngestResult]:
    try:
        with transaction.atomic():
            _ingest_bulk(items, refs=refs, actor=actor, rule=rule, results=results)
    except (IntegrityError, HistoryInvalid):
        # Another request wrote one of these leads or touches meanwhile, or a new lead's entry
        # lies (within the accepted skew) ahead of the clock: the reference path, item by item.
        _ingest_each(items, actor=actor, rule=rule, results=results)
    return [r if r is not None else IngestResult(status="error") for r in results]


def _items_check(
    specs: Sequence[TouchSpec], *, refs: Refs, now: datetime, results: list[IngestResult | None]
) -> dict[int, Item]:
    items: dict[int, Item] = {}
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
            items[index] = Item(spec, refs.touch_input(spec), email, external_id)
        except LeadloopError as exc:
            results[index] = IngestResult(status="error", errors=(ItemError.of(exc),))
    return items


def _ingest_each(
    items: dict[int, Item], *, actor: User | None, rule: str, results: list[IngestResult | None]
) -> None:
    for index, item in items.items():
        try:
            with transaction.atomic():
                captured = (
                    touch_capture(spec=item.spec, actor=actor, rule=rule)
                    if item.lead_data is None
                    else lead_capture(data=item.lead_data, touch=item.data, actor=actor, rule=rule)
                )
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
    items: dict[int, Item],
    *,
    refs: Refs,
    actor: User | None,
    rule: str,
    results: list[IngestResult | None],
) -> None:
    leads_by_id(items, results=results)
    leads = leads_replay(items)
    companies_attach(leads)
    agreement = agreement_in_force()
    leads_write(leads, actor=actor, rule=rule, queue=marketing_queue(agreement))
    touches_insert(items, refs=refs, results=results)
    # The new touches' engagement terms in bulk; fit for new leads and those that gained a company.
    scores = scores_touches_record(
        touch_ids=[r.touch_id for r in results if r and r.status == "created" and r.touch_id],
        refit_lead_ids=[
            ref.pk for ref in leads if (ref.company_domain or ref.refit) and ref.pk is not None
        ],
    )
    _qualify(items, results=results, scores=scores, agreement=agreement)


def _qualify(
    items: dict[int, Item],
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

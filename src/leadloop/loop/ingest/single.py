"""One touch and its lead, through ``loop.services.lead_capture``."""

from __future__ import annotations

from leadloop.accounts.models import User
from leadloop.common.errors import NotFound
from leadloop.leads.models import Lead
from leadloop.leads.services import LeadData
from leadloop.loop.ingest.specs import Refs, TouchSpec, occurred_at_check
from leadloop.loop.services import Captured, lead_capture


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
        data_touch = Refs.load([touch]).touch_input(touch)
    return lead_capture(data=data, touch=data_touch, actor=actor, rule=rule)


def touch_capture(*, spec: TouchSpec, actor: User | None, rule: str = "api") -> Captured:
    """Record one touch for the lead of `spec` (by id, else e-mail or external id; created
    when new) with ``lead_capture``. Raises as ``lead_ingest``, and NotFound for a lead id."""
    occurred_at_check(spec.occurred_at)
    data = _lead_data(lead_id=spec.lead_id, email=spec.email, external_id=spec.lead_external_id)
    return lead_capture(
        data=data, touch=Refs.load([spec]).touch_input(spec), actor=actor, rule=rule
    )

"""The use cases that span apps, read top to bottom.

    capture: a lead (and maybe a touch) arrives → upsert the lead (leads) → a new lead enters
    the lifecycle (lifecycle) → the touch is recorded (capture).

Scoring, qualification and routing join this chain as their apps arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from leadloop.accounts.models import User
from leadloop.capture.models import Touch
from leadloop.capture.services import TouchInput, touch_record
from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import LeadData, lead_upsert
from leadloop.lifecycle.services import lead_enter


@dataclass(frozen=True)
class Captured:
    lead: Lead
    lead_created: bool
    changed: tuple[str, ...]
    touch: Touch | None = None
    touch_created: bool = False


@transaction.atomic
def lead_capture(
    *,
    data: LeadData,
    touch: TouchInput | None = None,
    actor: User | None = None,
    rule: str = "capture",
    entry_stage: Stage = Stage.LEAD,
    update_only: bool = False,
) -> Captured:
    """Create or update a lead from captured data and record what it did, in one transaction.

    A new lead enters the lifecycle at `entry_stage` (one StageChange by `actor` or `rule`) at
    the touch's time when there is one. Raises what ``lead_upsert`` and ``touch_record`` raise.
    """
    upsert = lead_upsert(data=data, update_only=update_only)
    lead = upsert.lead
    if upsert.created:
        lead_enter(
            lead_id=lead.pk,
            stage=entry_stage,
            actor=actor,
            rule=rule,
            at=touch.occurred_at if touch else None,
        )
        lead.refresh_from_db()
    if touch is None:
        return Captured(lead=lead, lead_created=upsert.created, changed=upsert.changed)
    recorded = touch_record(lead=lead, data=touch)
    return Captured(
        lead=lead,
        lead_created=upsert.created,
        changed=upsert.changed,
        touch=recorded.touch,
        touch_created=recorded.created,
    )

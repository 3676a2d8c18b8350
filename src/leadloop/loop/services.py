"""The use cases that span apps, read top to bottom.

capture: a lead (and maybe a touch) arrives → upsert the lead (leads; a new one is owned
by the agreement's marketing queue) → a new lead enters the lifecycle (lifecycle) → the
touch is recorded (capture) → scored (scoring) → qualified when the agreement says so
(loop.lifecycle: a hand-raiser at once, else the score thresholds) → handed off.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from leadloop.accounts.models import User
from leadloop.agreements.selectors import agreement_in_force
from leadloop.capture.models import Touch
from leadloop.capture.services import (
    TouchInput,
    touch_first_source,
    touch_prepare,
    touch_record,
)
from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import LeadData, lead_upsert
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import lead_entry_stamp
from leadloop.loop.lifecycle import lead_qualify_if_due, touch_facts
from leadloop.loop.owners import marketing_queue
from leadloop.scoring.services import scores_capture
from leadloop.sla.services import CONTACT_TOUCH_KINDS, clocks_on_touch
from leadloop.webhooks.services import webhook_stage_changed_emit


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

    This is the public forms' hot path, so a new lead costs no extra round trips: its entry's
    stage columns and first-touch source go into its own INSERT (``lifecycle.lead_entry_stamp``
    before ``lead_upsert`` saves it), then the StageChange and the touch are inserted, the touch
    without a look-up (tests/loop/test_query_counts.py pins the statements).
    """
    entry: list[StageChange] = []
    prepared: list[Touch] = []
    agreement = agreement_in_force()

    def enter(lead: Lead) -> None:
        # A new lead: its lifecycle entry's stage columns and its first-touch source go into
        # its own INSERT; the entry's StageChange follows it.
        lead.queue = marketing_queue(agreement)
        entry.append(
            lead_entry_stamp(
                lead,
                stage=entry_stage,
                actor=actor,
                rule=rule,
                at=touch.occurred_at if touch else None,
            )
        )
        if touch is not None:
            prepared.append(touch_prepare(data=touch))
            source, detail = touch_first_source(prepared[0])
            if source:
                lead.source, lead.source_detail = source, detail

    upsert = lead_upsert(data=data, update_only=update_only, on_create=enter)
    lead = upsert.lead
    for change in entry:
        change.save(force_insert=True)
    recorded = (
        touch_record(
            lead=lead,
            data=touch,
            prepared=prepared[0] if prepared else None,
            lead_new=upsert.created,
        )
        if touch is not None
        else None
    )
    for change in entry:
        webhook_stage_changed_emit(change=change)
    new_touch = recorded.touch if recorded is not None and recorded.created else None
    if new_touch is not None and new_touch.kind in CONTACT_TOUCH_KINDS:
        clocks_on_touch(touch_id=new_touch.pk)  # a rep's contact attempt stops its clock
    # O(1): the new touch adds its terms to the engagement sum; fit only for new or changed leads.
    score = scores_capture(
        lead=lead, touch=new_touch, lead_changed=upsert.created or bool(upsert.changed)
    )
    if (new_touch is not None or score is not None) and lead_qualify_if_due(
        lead=lead,
        score=score,
        touch=touch_facts(new_touch) if new_touch is not None else None,
        agreement=agreement,
    ):
        lead.refresh_from_db()
    if recorded is None:
        return Captured(lead=lead, lead_created=upsert.created, changed=upsert.changed)
    return Captured(
        lead=lead,
        lead_created=upsert.created,
        changed=upsert.changed,
        touch=recorded.touch,
        touch_created=recorded.created,
    )

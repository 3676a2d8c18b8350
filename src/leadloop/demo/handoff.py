"""The demo's open work: the MQLs and SALs its story leaves with reps get the assignment that
handed them over and their SLA clocks, so the reps' inboxes count down from the first login."""

from __future__ import annotations

from django.db import transaction

from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.sla.services import clocks_on_assignment, clocks_on_stage_change


def demo_open_work_assign(*, agreement_version: int) -> int:
    """Record how each open MQL or SAL owned by a rep reached them and start its clocks (due
    times from the history's own times, so older ones are already late). Returns how many."""
    done = 0
    leads = Lead.objects.filter(stage__in=(Stage.MQL, Stage.SAL), owner__isnull=False)
    for lead in leads.order_by("pk").iterator():
        qualified = (
            StageChange.objects.filter(lead=lead, to_stage=Stage.MQL).order_by("-at", "-id").first()
        )
        if qualified is None or Assignment.objects.filter(stage_change=qualified).exists():
            continue
        with transaction.atomic():
            assignment = Assignment.objects.create(
                lead=lead,
                cycle=lead.cycle,
                kind=AssignmentKind.ROUTED,
                assignee_id=lead.owner_id,
                rule="demo history",
                why="Routed when the demo's story qualified the lead",
                agreement_version=agreement_version,
                stage_change=qualified,
                at=qualified.at,
            )
            clocks_on_assignment(assignment_id=assignment.pk)
            if lead.stage == Stage.SAL:
                accepted = (
                    StageChange.objects.filter(lead=lead, to_stage=Stage.SAL)
                    .order_by("-at", "-id")
                    .first()
                )
                if accepted is not None:
                    clocks_on_stage_change(change_id=accepted.pk)
        done += 1
    return done

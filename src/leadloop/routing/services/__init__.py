"""Who owns each lead: routing by the agreement's rules, reassignment by hand, queues, the
batched hand-off and absences.

    lead_route ── the agreement's rules, in order ─┬─ named account: the company's owner
                                                   ├─ territory | sector | company size |
                                                   │  round robin: weighted round robin among
                                                   │  the rule's reps (or its team's sales
                                                   │  reps), skipping the inactive, the absent
                                                   │  and those at a daily or weekly cap
                                                   └─ no rule with an available rep: the
                                                      agreement's fallback queue
    lead_assign: a manager reassigns by hand · lead_queue_set: back to marketing, escalation
    handoff_deliver: the batched hand-off routes the MQLs that waited, once per due time

``Lead.owner`` and ``Lead.queue`` are written here (and by ``loop.merge``) only: every change
writes one Assignment in the same transaction, with the rule, the why, and every candidate
that was skipped and why ("Ana: at weekly cap 25/25").

Concurrency: the lead row is locked first, so a qualification is routed once (and the
unique Assignment.stage_change answers a writer that did not lock: its INSERT does nothing);
a rule's round-robin cursor moves with one UPDATE that locks it until commit, so the rule's
picks take turns; the chosen rep's day and week counters are taken with one conditional
UPDATE (count < cap) whose row count is checked, so no two workers push a rep past a cap.
When another worker filled a counter after it was read, the attempt rolls back (releasing
its row locks: no worker holds a counter while it waits for a cursor) and starts again. The
statements of this path are plain SQL, in ``routing.store`` (benchmarks/routing.py).

Errors: LeadloopError ─┬─ AssignmentInvalid, OutOfOfficeInvalid (they name the field)
                       ├─ NotFound (lead, stage change, absence)
                       ├─ PermissionDenied ─ ReassignNotAllowed, OutOfOfficeNotAllowed
                       └─ Conflict ─ AssignmentUnchanged, RoutingContended
"""

from leadloop.routing.services.absences import (
    OutOfOfficeInvalid,
    OutOfOfficeNotAllowed,
    out_of_office_end,
    out_of_office_set,
)
from leadloop.routing.services.handoff import HANDOFF_CLAIM_STALE, handoff_deliver, handoff_due_at
from leadloop.routing.services.manual import (
    AssignmentUnchanged,
    ReassignNotAllowed,
    lead_assign,
    lead_queue_set,
)
from leadloop.routing.services.record import AssignmentInvalid, Skip
from leadloop.routing.services.route import RoutingContended, TransactionRequired, lead_route

__all__ = [
    "HANDOFF_CLAIM_STALE",
    "AssignmentInvalid",
    "AssignmentUnchanged",
    "OutOfOfficeInvalid",
    "OutOfOfficeNotAllowed",
    "ReassignNotAllowed",
    "RoutingContended",
    "Skip",
    "TransactionRequired",
    "handoff_deliver",
    "handoff_due_at",
    "lead_assign",
    "lead_queue_set",
    "lead_route",
    "out_of_office_end",
    "out_of_office_set",
]

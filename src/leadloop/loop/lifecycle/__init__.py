"""The lifecycle use cases: qualify, hand off, answer, win or lose (one module each).

    a touch or a score ──qualifies under the agreement──▶ lead_qualify ─▶ MQL (marketing queue)
        └─ hand-off instant: routed in the same transaction ─▶ a rep (or the fallback queue);
           from a batch of touches, or when reps' counters are contended: after commit, by
           the task lead_route_qualified
        └─ hand-off batched: waits in the marketing queue for routing.handoff_deliver
    rep: lead_accept ─▶ SAL ─▶ SQL ─▶ opportunity ─▶ lead_win ─▶ customer
    rep: lead_reject(reason) / lead_lose(reason) ─▶ the reason's action in the agreement:
         nurture | recycle (held back N days) | disqualify | merge as duplicate
         ─▶ the lead goes back to the marketing queue (an Assignment of kind "returned")
    nurture: new engagement that qualifies again (after any recycle hold) ─▶ MQL, a new cycle

Every step records the agreement version it applied (StageChange.agreement_version,
Assignment.agreement_version) and is sent to the webhooks. ``lead_transition`` writes stages;
routing writes owners; this module decides which to call, in which order.
"""

from leadloop.loop.lifecycle.absences import out_of_office_end, out_of_office_set
from leadloop.loop.lifecycle.answers import (
    DuplicateOfRequired,
    ReasonUnknown,
    lead_accept,
    lead_lose,
    lead_move,
    lead_reject,
    lead_win,
)
from leadloop.loop.lifecycle.handoff import (
    handoff_deliver_now,
    lead_qualify,
    lead_reassign,
    lead_route_qualified,
)
from leadloop.loop.lifecycle.qualify import (
    QUALIFYING_STAGES,
    TouchFacts,
    hand_raiser,
    lead_qualify_if_due,
    leads_qualify_due,
    touch_facts,
)

__all__ = [
    "QUALIFYING_STAGES",
    "DuplicateOfRequired",
    "ReasonUnknown",
    "TouchFacts",
    "hand_raiser",
    "handoff_deliver_now",
    "lead_accept",
    "lead_lose",
    "lead_move",
    "lead_qualify",
    "lead_qualify_if_due",
    "lead_reassign",
    "lead_reject",
    "lead_route_qualified",
    "lead_win",
    "leads_qualify_due",
    "out_of_office_end",
    "out_of_office_set",
    "touch_facts",
]

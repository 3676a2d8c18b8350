"""The one writer of ``Lead.owner`` and ``Lead.queue``: every change takes the rep's slot
(when routed), writes one Assignment with its why, and sets the lead's owner or queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from django.utils import timezone

from leadloop.common.errors import LeadloopError
from leadloop.leads.models import Lead
from leadloop.routing import store
from leadloop.routing.models import Assignment, AssignmentKind


class AssignmentInvalid(LeadloopError):
    code = "assignment_invalid"


class Skip(TypedDict):
    """One line of an Assignment's explanation: a rule that did not apply, or a candidate
    that was passed over."""

    rule: str
    candidate: str | None  # the username; None when the whole rule did not apply
    skipped: str  # the reason alone: "at weekly cap 25/25"
    text: str  # the line as shown: "Ana: at weekly cap 25/25"


class Contended(Exception):
    """A counter filled up between reading it and taking it: try the routing again."""


class AlreadyRouted(Exception):
    """Another writer answered this stage change first."""


def assignment_record(
    lead: store.LeadRow | Lead,
    *,
    kind: AssignmentKind,
    assignee_id: int | None = None,
    take: store.Take | None = None,
    queue_id: int | None = None,
    rule: str = "",
    why: str,
    explanation: Sequence[Skip] = (),
    agreement_version: int | None,
    stage_change_id: int | None = None,
    actor_id: int | None = None,
    at: datetime,
    cursor_moves: dict[int, int] | None = None,
) -> Assignment:
    """Take the rep's slot (`take`), record the new owner (a person, else a queue) and set it
    on the lead: the one writer of Lead.owner and Lead.queue. `cursor_moves`: round-robin
    cursors to set in the same write (a routing's walk past unavailable reps).

    Raises Contended when a counter of the take filled up since it was read (another
    worker's), and AlreadyRouted when the stage change has its assignment already (the
    unique constraint, for a writer that did not lock the lead); the caller rolls back."""
    queue_id = None if assignee_id is not None else queue_id
    written = store.assignment_write(
        take=take,
        owner_at=timezone.now(),
        cursor_moves=tuple((cursor_moves or {}).items()),
        lead_id=lead.id,
        cycle=lead.cycle,
        kind=kind,
        assignee_id=assignee_id,
        queue_id=queue_id,
        previous_assignee_id=lead.owner_id,
        previous_queue_id=lead.queue_id,
        rule=rule[:100],
        why=why[:500],
        explanation=list(explanation),
        agreement_version=agreement_version,
        stage_change_id=stage_change_id,
        actor_id=actor_id,
        at=at,
    )
    if written.taken is not None and written.taken < 2:
        raise Contended
    if written.assignment is None:
        raise AlreadyRouted
    return written.assignment

"""The queue a lead belongs to when no person owns it: the agreement's marketing queue."""

from __future__ import annotations

from leadloop.accounts.models import Team, TeamKind
from leadloop.accounts.services import team_queue
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.common.cache import ProcessCache

_QUEUES: ProcessCache[Team] = ProcessCache("team queues")


def marketing_queue(agreement: AgreementInForce | None = None) -> Team:
    """The marketing queue the agreement names (created when missing): every new lead's owner
    until it is handed to sales, and where sales sends back what it rejects or loses.
    Kept a few seconds per process (common.cache), as every capture asks."""
    name = (agreement or agreement_in_force()).body.routing.marketing_queue
    cached = _QUEUES.get(name)
    if cached is not None:
        return cached
    existing = Team.objects.filter(name=name).first()
    if existing is None:
        return team_queue(name=name, kind=TeamKind.MARKETING)  # new in this transaction
    return _QUEUES.set(existing, name)

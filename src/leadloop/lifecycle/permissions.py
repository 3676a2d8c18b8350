"""Who may move which lead where: the permission rules of manual stage moves.

Marketing owns the marketing stages (subscriber, lead, nurture, disqualified) and MQLs still in
a queue waiting for hand-off; a sales rep answers for the leads they own; a sales manager for
their team's leads and queue; the revenue leader and admins for every lead. The rules are data
the UI reads to show only the buttons a person may press.
"""

from __future__ import annotations

from typing import Final

from leadloop.accounts.models import Role, TeamKind, User
from leadloop.leads.models import Lead, Stage

MARKETING_STAGES: Final = frozenset(
    {Stage.SUBSCRIBER, Stage.LEAD, Stage.NURTURE, Stage.DISQUALIFIED}
)
SALES_STAGES: Final = frozenset({Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY})
_EVERY_LEAD: Final = frozenset({Role.REVENUE_LEADER, Role.ADMIN})


def _waiting_in_marketing_queue(lead: Lead) -> bool:
    return (
        lead.owner_id is None and lead.queue is not None and lead.queue.kind == TeamKind.MARKETING
    )


def move_refusal(user: User, lead: Lead, to: Stage) -> str | None:
    """Why `user` may not move `lead` to `to` by hand, or None when they may.

    Only says who may act; whether the move itself is allowed is ``lifecycle.services.ALLOWED``.
    """
    if user.is_superuser or user.role in _EVERY_LEAD:
        return None
    current = Stage(lead.stage)
    if user.role == Role.MARKETING_OPS:
        if current in MARKETING_STAGES:
            return None
        if current == Stage.MQL and _waiting_in_marketing_queue(lead):
            if to in (Stage.NURTURE, Stage.DISQUALIFIED):
                return None  # taken back before the hand-off; only sales accepts
            return "Only sales can accept an MQL; marketing can take it back before the hand-off."
        return f"Marketing ops cannot move a lead at {current.label}: sales owns it."
    if user.role == Role.SALES_REP:
        if current in SALES_STAGES or current == Stage.CUSTOMER:
            if lead.owner_id == user.pk:
                return None
            return "A sales rep can only move the leads they own."
        return f"A sales rep cannot move a lead at {current.label}: marketing owns it."
    if user.role == Role.SALES_MANAGER:
        if current not in SALES_STAGES and current != Stage.CUSTOMER:
            return f"A sales manager cannot move a lead at {current.label}: marketing owns it."
        owner_team = lead.owner.team_id if lead.owner is not None else lead.queue_id
        if user.team_id is not None and owner_team == user.team_id:
            return None
        return "A sales manager can only move the leads of their team."
    return f"The role {Role(user.role).label} cannot move leads."

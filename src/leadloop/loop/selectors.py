"""Reads that span the lifecycle and the agreement: which moves a person may make now, with the
reasons each needs, and a lead's timeline with its reasons in words.

``moves_for`` is what both faces ask before showing or accepting a move: the API's
``GET /leads/{id}/moves`` and the lead page's stage panel list exactly its options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

from leadloop.accounts.models import User
from leadloop.agreements.models import AgreementVersion
from leadloop.agreements.schema import AgreementBody, Reason
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import email_valid
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.permissions import SALES_STAGES, move_refusal
from leadloop.lifecycle.selectors import TimelineEntry, lead_timeline
from leadloop.lifecycle.services import ALLOWED, reason_required

MoveAction = Literal[
    "accept",
    "reject",
    "qualify",
    "convert",
    "win",
    "lose",
    "promote",
    "nurture",
    "disqualify",
    "make_lead",
    "reopen",
]
ReasonKind = Literal["reject", "lost"]

# The order buttons are shown in: forward moves first, then the answers that send a lead back.
_ACTION_ORDER: Final[tuple[MoveAction, ...]] = (
    "accept",
    "qualify",
    "convert",
    "win",
    "promote",
    "make_lead",
    "reopen",
    "reject",
    "lose",
    "nurture",
    "disqualify",
)
_LABELS: Final[dict[MoveAction, str]] = {
    "accept": "Accept",
    "reject": "Reject...",
    "qualify": "Qualify as SQL",
    "convert": "Convert to opportunity",
    "win": "Won",
    "lose": "Lost...",
    "promote": "Promote to MQL",
    "nurture": "Move to nurture",
    "disqualify": "Disqualify...",
    "make_lead": "Mark as lead",
    "reopen": "Reopen as lead",
}
# Which reason actions send a lead to which stage (as loop.lifecycle applies them).
_ACTION_STAGE: Final[dict[str, Stage]] = {
    "nurture": Stage.NURTURE,
    "recycle": Stage.NURTURE,
    "disqualify": Stage.DISQUALIFIED,
    "merge_duplicate": Stage.DISQUALIFIED,
}


@dataclass(frozen=True)
class ReasonOption:
    """One reason of the agreement's catalogue and what follows it, in words."""

    code: str
    label: str
    kind: ReasonKind
    action: str  # nurture | recycle | disqualify | merge_duplicate
    next_step: str  # "back to nurture, may re-qualify after 90 days"
    position: int = 0  # in the agreement's catalogue, which orders the reasons shown

    @property
    def asks_duplicate(self) -> bool:
        return self.action == "merge_duplicate"

    @property
    def text(self) -> str:
        """'Not now - back to nurture, may re-qualify after 90 days'."""
        return f"{self.label} - {self.next_step}"


@dataclass(frozen=True)
class MoveOption:
    """A move `user` may make now: the target stage, and the reasons it takes when it needs one."""

    to: Stage
    action: MoveAction
    label: str
    reason_required: bool
    reason_kind: ReasonKind | None
    reasons: tuple[ReasonOption, ...]  # empty when the move takes no reason

    @property
    def asks_duplicate(self) -> bool:
        return any(r.asks_duplicate for r in self.reasons)


def reason_next_step(reason: Reason) -> str:
    """What happens to a lead answered with `reason`, in words."""
    if reason.action == "recycle":
        return f"back to nurture, may re-qualify after {reason.recycle_days} days"
    if reason.action == "nurture":
        return f"back to nurture ({reason.track} track)" if reason.track else "back to nurture"
    if reason.action == "merge_duplicate":
        return "merged into the lead it duplicates"
    return "disqualified"


def _option(reason: Reason, position: int = 0) -> ReasonOption:
    return ReasonOption(
        code=reason.code,
        label=reason.label,
        kind=reason.kind,
        action=reason.action,
        next_step=reason_next_step(reason),
        position=position,
    )


def _action(current: Stage, to: Stage) -> MoveAction:
    if to in (Stage.NURTURE, Stage.DISQUALIFIED) and current in SALES_STAGES:
        return "reject" if current in (Stage.MQL, Stage.SAL) else "lose"
    forward: dict[Stage, MoveAction] = {
        Stage.SAL: "accept",
        Stage.SQL: "qualify",
        Stage.OPPORTUNITY: "convert",
        Stage.CUSTOMER: "win",
        Stage.MQL: "promote",
        Stage.NURTURE: "nurture",
        Stage.DISQUALIFIED: "disqualify",
    }
    if to == Stage.LEAD:
        return "reopen" if current == Stage.DISQUALIFIED else "make_lead"
    return forward[to]


def _reasons(
    body: AgreementBody, current: Stage, to: Stage
) -> tuple[ReasonKind | None, list[Reason]]:
    """The kind of reason a move takes and the catalogue's reasons that lead to `to`.

    From a sales stage the reason decides the target (reject from MQL and SAL, lost from SQL
    and opportunity); a disqualification in marketing's stages takes the reject reasons that
    disqualify.
    """
    if not reason_required(current, to):
        return None, []
    if current in SALES_STAGES:
        kind: ReasonKind = "reject" if current in (Stage.MQL, Stage.SAL) else "lost"
        return kind, [r for r in body.reasons if r.kind == kind and _ACTION_STAGE[r.action] == to]
    return "reject", [r for r in body.reasons if r.kind == "reject" and r.action == "disqualify"]


def moves_for(
    *, user: User, lead: Lead, agreement: AgreementInForce | None = None
) -> list[MoveOption]:
    """The manual moves `user` may make on `lead` now, in button order.

    A move is listed when ``ALLOWED`` has it, ``move_refusal`` lets `user` make it and, when it
    needs a reason, the agreement in force has at least one that leads there.
    """
    body = (agreement or agreement_in_force()).body
    current = Stage(lead.stage)
    options: list[MoveOption] = []
    for to in ALLOWED[current]:
        if move_refusal(user, lead, to) is not None:
            continue
        kind, reasons = _reasons(body, current, to)
        needed = reason_required(current, to)
        if needed and not reasons:
            continue
        action = _action(current, to)
        options.append(
            MoveOption(
                to=to,
                action=action,
                label=_LABELS[action],
                reason_required=needed,
                reason_kind=kind,
                reasons=tuple(_option(r, body.reasons.index(r)) for r in reasons),
            )
        )
    options.sort(key=lambda o: (_ACTION_ORDER.index(o.action), o.to))
    return options


def moves_refused_because(*, user: User, lead: Lead) -> str:
    """Why `user` may make no move on `lead` ("" when some move is open to them or none exist)."""
    for to in sorted(ALLOWED[Stage(lead.stage)]):
        refusal = move_refusal(user, lead, to)
        if refusal:
            return refusal
    return ""


@dataclass(frozen=True)
class StageAction:
    """One button of the stage panel: the options of one action merged (a rejection may send a
    lead to nurture or disqualify it, as its reason says)."""

    action: MoveAction
    label: str
    to: Stage  # the target when the action has one; for reject/lose the reason decides
    reason_required: bool
    reason_kind: ReasonKind | None
    reasons: tuple[ReasonOption, ...]

    @property
    def asks_duplicate(self) -> bool:
        return any(r.asks_duplicate for r in self.reasons)

    @property
    def takes_form(self) -> bool:
        return self.reason_required


def stage_actions(options: Iterable[MoveOption]) -> list[StageAction]:
    """`options` as buttons: one per action, reasons in the agreement's order."""
    actions: dict[MoveAction, StageAction] = {}
    for option in options:
        seen = actions.get(option.action)
        if seen is None:
            actions[option.action] = StageAction(
                action=option.action,
                label=option.label,
                to=option.to,
                reason_required=option.reason_required,
                reason_kind=option.reason_kind,
                reasons=option.reasons,
            )
        else:
            merged = sorted((*seen.reasons, *option.reasons), key=lambda r: r.position)
            actions[option.action] = dataclasses.replace(seen, reasons=tuple(merged))
    return list(actions.values())


# --- The timeline, with reasons in words ------------------------------------------------------


def _reason_kind(change: StageChange) -> ReasonKind:
    return "lost" if change.from_stage in (Stage.SQL, Stage.OPPORTUNITY) else "reject"


def reason_labels(changes: Iterable[StageChange]) -> dict[int, ReasonOption]:
    """The reason of each change that has one, as the agreement version it applied spelled it
    (the version in force when the change records none); keyed by change id. A code that
    version does not know is left out."""
    changes = [c for c in changes if c.reason]
    numbers = {c.agreement_version for c in changes if c.agreement_version is not None}
    bodies: dict[int | None, AgreementBody] = {
        v.number: AgreementBody.model_validate(v.body)
        for v in AgreementVersion.objects.filter(number__in=numbers)
    }
    if any(c.agreement_version is None or c.agreement_version not in bodies for c in changes):
        bodies[None] = agreement_in_force().body
    found: dict[int, ReasonOption] = {}
    for change in changes:
        body = bodies.get(change.agreement_version) or bodies[None]
        reason = body.reason(_reason_kind(change), change.reason) or next(
            (r for r in body.reasons if r.code == change.reason), None
        )
        if reason is not None:
            found[change.pk] = _option(reason)
    return found


def lead_timeline_explained(*, lead_id: int, limit: int = 200) -> list[TimelineEntry]:
    """``lifecycle.selectors.lead_timeline`` with each stage change's reason in words."""
    entries = lead_timeline(lead_id=lead_id, limit=limit)
    labels = reason_labels(e.stage_change for e in entries if e.stage_change is not None)
    explained: list[TimelineEntry] = []
    for entry in entries:
        reason = labels.get(entry.stage_change.pk) if entry.stage_change is not None else None
        if reason is not None:
            entry = dataclasses.replace(
                entry, reason_label=reason.label, reason_next_step=reason.next_step
            )
        explained.append(entry)
    return explained


# --- Finding the lead a duplicate duplicates --------------------------------------------------


def lead_find(*, key: str) -> Lead | None:
    """The lead with id `key` (digits, optionally after '#') or e-mail `key`, or None."""
    key = key.strip()
    if key.removeprefix("#").isdigit():
        return Lead.objects.filter(pk=int(key.removeprefix("#"))).first()
    email = key.lower()
    if email_valid(email):
        return Lead.objects.filter(email=email).first()
    return None

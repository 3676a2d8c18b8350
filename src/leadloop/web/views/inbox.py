"""The rep's inbox and the manager's team clocks: open leads soonest due first, each with its
business-time countdown, answered with one click (htmx) or by keyboard (``inbox.js``).

The lists poll themselves every ``LEADLOOP_INBOX_POLL_SECONDS`` (default 45) and are swapped in
place; an answer swaps its row only, with the result or the error in it. The reads are ``sla.reports`` selectors; the answers
are ``loop.lifecycle.lead_accept`` and ``lead_reject``; which buttons a row shows is
``loop.selectors.moves_for``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from leadloop.accounts.models import User
from leadloop.agreements.schema import Reason
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.common.errors import LeadloopError
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.loop.lifecycle import lead_accept, lead_reject
from leadloop.loop.selectors import lead_find, moves_for, reason_labels, reason_next_step
from leadloop.sla.reports import (
    InboxGroup,
    InboxRow,
    countdown_text,
    inbox_row,
    inbox_rows,
    team_inbox,
)
from leadloop.web.views.common import AuthedRequest

POLL_SECONDS: Final = 45


def _poll_seconds() -> int:
    return int(getattr(settings, "LEADLOOP_INBOX_POLL_SECONDS", POLL_SECONDS))


@dataclass(frozen=True)
class RowView:
    """An inbox row as drawn: the lead's row and the buttons the viewer may press on it."""

    row: InboxRow
    can_accept: bool
    can_reject: bool
    message: str = ""
    error: str = ""

    @property
    def lead(self) -> Lead:
        return self.row.lead

    @property
    def countdown(self) -> str:
        """'7.5 h left', '1 h late', or '' for a lead without a running clock."""
        clock = self.row.clock
        if clock is None:
            return ""
        late = clock.left <= dt.timedelta(0)
        return f"{countdown_text(clock.left)} {'late' if late else 'left'}"

    @property
    def countdown_title(self) -> str:
        clock = self.row.clock
        if clock is None:
            return "No SLA clock is running for this lead"
        words = "business time late" if clock.left <= dt.timedelta(0) else "business time left"
        paused = "; paused while the owner is out of office" if clock.paused else ""
        return (
            f"{countdown_text(clock.left)} of {words}, of {clock.budget_label} "
            f"({clock.kind.label.lower()}){paused}"
        )


@dataclass(frozen=True)
class DoneRow:
    """A row whose lead left the inbox by the viewer's answer: shown until the next refresh."""

    lead_id: int
    name: str
    message: str
    url: str


@dataclass(frozen=True)
class RejectReason:
    code: str
    label: str
    next_step: str
    asks_duplicate: bool


def _reject_reasons(agreement: AgreementInForce) -> list[RejectReason]:
    """The agreement's reject reasons, in its order, with what follows each."""
    return [_reject_reason(r) for r in agreement.body.reasons if r.kind == "reject"]


def _reject_reason(reason: Reason) -> RejectReason:
    return RejectReason(
        code=reason.code,
        label=reason.label,
        next_step=reason_next_step(reason),
        asks_duplicate=reason.action == "merge_duplicate",
    )


def _view(
    user: User, row: InboxRow, agreement: AgreementInForce, message: str = "", error: str = ""
) -> RowView:
    actions = {o.action for o in moves_for(user=user, lead=row.lead, agreement=agreement)}
    return RowView(
        row=row,
        can_accept="accept" in actions,
        can_reject="reject" in actions,
        message=message,
        error=error,
    )


# --- The blocks of the home page ------------------------------------------------------------------


@dataclass(frozen=True)
class Inbox:
    rows: tuple[RowView, ...]
    poll_seconds: int

    @property
    def late(self) -> int:
        return sum(r.row.state == "red" for r in self.rows)


@dataclass(frozen=True)
class GroupView:
    group: InboxGroup
    rows: tuple[RowView, ...]


@dataclass(frozen=True)
class TeamClocks:
    team_name: str
    groups: tuple[GroupView, ...]
    poll_seconds: int

    @property
    def total(self) -> int:
        return sum(len(g.rows) for g in self.groups)

    @property
    def late(self) -> int:
        return sum(g.group.late for g in self.groups)


def _inbox(user: User, now: dt.datetime) -> Inbox:
    agreement = agreement_in_force()
    rows = inbox_rows(owner=user, now=now)
    return Inbox(rows=tuple(_view(user, r, agreement) for r in rows), poll_seconds=_poll_seconds())


def _team_clocks(user: User, now: dt.datetime) -> TeamClocks | None:
    if user.team is None:
        return None
    agreement = agreement_in_force()
    groups = team_inbox(team=user.team, now=now)
    return TeamClocks(
        team_name=user.team.name,
        groups=tuple(
            GroupView(group=g, rows=tuple(_view(user, r, agreement) for r in g.rows))
            for g in groups
        ),
        poll_seconds=_poll_seconds(),
    )


def inbox_block(user: User, now: dt.datetime, tz: ZoneInfo) -> dict[str, object]:
    """The sales rep's home: their inbox, and the reject dialog's reasons."""
    return {"inbox": _inbox(user, now), "reject_reasons": _reject_reasons(agreement_in_force())}


def team_clocks_block(user: User, now: dt.datetime, tz: ZoneInfo) -> dict[str, object]:
    """The sales manager's home: the open clocks of their team, per rep and the queue."""
    team = _team_clocks(user, now)
    if team is None:
        return {}
    return {"team_clocks": team, "reject_reasons": _reject_reasons(agreement_in_force())}


# --- The polled lists -----------------------------------------------------------------------------


@login_required
@require_GET
def inbox_body(request: AuthedRequest) -> HttpResponse:
    """The inbox's list alone: polled by htmx and swapped in place."""
    if not getattr(request, "htmx", False):
        return redirect("web:dashboard")
    return render(request, "web/inbox/_body.html", {"inbox": _inbox(request.user, timezone.now())})


@login_required
@require_GET
def team_clocks_body(request: AuthedRequest) -> HttpResponse:
    """The manager's team clocks alone: polled by htmx and swapped in place."""
    if not getattr(request, "htmx", False):
        return redirect("web:dashboard")
    team = _team_clocks(request.user, timezone.now())
    return render(request, "web/inbox/_team_body.html", {"team_clocks": team})


# --- Answers --------------------------------------------------------------------------------------


def _answered(
    request: AuthedRequest,
    *,
    lead_id: int,
    name: str,
    change: StageChange | None,
    message: str,
    error: str = "",
) -> HttpResponse:
    """The lead's row after an answer: its new state with `message`, or `error` beside the
    buttons; a lead that left the inbox becomes a done row until the next refresh."""
    if not getattr(request, "htmx", False):
        if error:
            messages.error(request, f"{name}: {error}")
        else:
            messages.success(request, f"{name}: {message}")
        return redirect("web:dashboard")
    now = timezone.now()
    row = inbox_row(lead_id=lead_id, now=now)
    if row is None:
        lead = Lead.objects.filter(pk=lead_id).first()
        done = DoneRow(
            lead_id=lead_id,
            name=name,
            message=error or message,
            url=lead.get_absolute_url() if lead is not None else "",
        )
        return render(request, "web/inbox/_done_row.html", {"done": done, "error": bool(error)})
    view = _view(
        request.user, row, agreement_in_force(), message="" if error else message, error=error
    )
    response = render(request, "web/inbox/_row.html", {"r": view})
    if change is not None:
        response["HX-Trigger"] = "lead-moved"
    return response


def _lead_name(lead_id: int) -> tuple[Lead | None, str]:
    lead = Lead.objects.filter(pk=lead_id).first()
    return lead, str(lead) if lead is not None else f"Lead {lead_id}"


@login_required
@require_POST
def inbox_accept(request: AuthedRequest, lead_id: int) -> HttpResponse:
    """Accept an MQL (it becomes a SAL) and answer with its row."""
    lead, name = _lead_name(lead_id)
    if lead is None:
        return _answered(
            request,
            lead_id=lead_id,
            name=name,
            change=None,
            message="",
            error=f"Lead {lead_id} no longer exists (merged or deleted).",
        )
    try:
        change = lead_accept(lead_id=lead_id, actor=request.user)
    except LeadloopError as e:
        return _answered(
            request, lead_id=lead_id, name=name, change=None, message="", error=e.message
        )
    return _answered(
        request,
        lead_id=lead_id,
        name=name,
        change=change,
        message=f"Accepted: now {Stage(change.to_stage).label}.",
    )


def _rejected_message(change: StageChange, merged_into: int | None) -> str:
    label = reason_labels([change]).get(change.pk)
    why = f"{label.label} - {label.next_step}" if label else change.reason
    merged = f" Merged into lead {merged_into}." if merged_into is not None else ""
    return f"Rejected: {why}.{merged}"


@login_required
@require_POST
def inbox_reject(request: AuthedRequest, lead_id: int) -> HttpResponse:
    """Reject an MQL or SAL with one of the agreement's reject reasons and an optional note,
    and answer with its row (a done row: the lead goes back to marketing)."""
    lead, name = _lead_name(lead_id)
    reason = request.POST.get("reason", "").strip()[:100]
    note = request.POST.get("note", "").strip()[:5000]
    key = request.POST.get("duplicate_of", "").strip()[:254]
    error = "" if lead is not None else f"Lead {lead_id} no longer exists (merged or deleted)."
    duplicate = lead_find(key=key) if key else None
    if key and duplicate is None:
        error = f"No lead with the e-mail or id {key!r}."
    if error:
        return _answered(request, lead_id=lead_id, name=name, change=None, message="", error=error)
    duplicate_of = duplicate.pk if duplicate is not None else None
    try:
        change = lead_reject(
            lead_id=lead_id, actor=request.user, reason=reason, note=note, duplicate_of=duplicate_of
        )
    except LeadloopError as e:
        return _answered(
            request, lead_id=lead_id, name=name, change=None, message="", error=e.message
        )
    return _answered(
        request,
        lead_id=lead_id,
        name=name,
        change=change,
        message=_rejected_message(change, duplicate_of),
    )

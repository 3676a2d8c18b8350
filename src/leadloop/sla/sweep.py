"""The SLA sweep: breaches, reminders and escalations of the clocks that are due, each once.

    0. one query: is anything due at all? (a sweep with nothing to do stops here)
    1. breaches   claim running clocks with due_at <= now and no breach handled yet
    2. reminders  claim running clocks with remind_at <= now < due_at, not reminded yet
                  (claims.py: set-based statements over the partial indexes; in the same
                  transaction the claimed clocks' outbox rows and in-app notifications are
                  written, so a claim never commits without its messages)
    3. escalation for each breached clock the agreement reassigns, in its own transaction:
                  lock the lead, claim the clock (escalated_at), hand the lead to its team's
                  queue (routing.lead_queue_set, kind escalation), restart its clocks for the
                  queue, tell the old owner
    4. e-mail     send the outbox's unsent e-mails, outside any transaction (notify.py)

The cost follows the clocks that are due, not the table: every step reads through an index
whose rows are exactly the clocks still waiting for that step. Two sweeps at once split the
work: on PostgreSQL each claim takes its rows FOR UPDATE SKIP LOCKED, in batches; SQLite runs one
writer at a time. A sweep killed at any point leaves either a committed claim with its
messages, or nothing: the next sweep carries on (no clock is lost, none is told twice).

Escalation choice: the lead goes to the breached owner's team queue (the agreement's fallback
queue when the owner has no team) with an Assignment of kind "escalation", not through the
routing rules again, which could hand it straight back to the same rep. A manager hands it on
from the queue; meanwhile the team holds a new clock of the same kind, whose reminder and
breach go to the team's managers (a team clock is never escalated again).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

from django.db import connection, transaction

from leadloop.accounts.models import TeamKind
from leadloop.accounts.services import team_queue
from leadloop.agreements.models import AgreementStatus, AgreementVersion
from leadloop.agreements.selectors import AgreementInForce, agreement_in_force
from leadloop.common.errors import LeadloopError
from leadloop.leads.models import Lead
from leadloop.routing.models import AssignmentKind
from leadloop.routing.services import lead_queue_set
from leadloop.sla.claims import claim, due_work, messages_write
from leadloop.sla.models import MessagePurpose, SlaClock
from leadloop.sla.notify import SendResult, messages_send
from leadloop.sla.services import clocks_on_assignment
from leadloop.webhooks.services import webhook_lead_assigned_emit

log = logging.getLogger(__name__)

BATCH = 1000


@dataclass(frozen=True)
class SweepResult:
    breached: int  # clocks whose breach this sweep handled
    reminded: int  # clocks whose reminder this sweep handled
    escalated: int  # leads taken back to a queue at a breach
    messages: int  # outbox rows (and in-app notifications) written
    emails_sent: int
    emails_failed: int


def sla_sweep(
    *,
    now: dt.datetime,
    agreement: AgreementInForce | None = None,
    batch: int = BATCH,
    throttle: float = 0.0,
    send: bool = True,
) -> SweepResult:
    """Handle every breach, reminder and escalation due at `now`, then e-mail the outbox.
    Safe to run twice and on several workers at once (module docstring). `throttle` waits
    that many seconds after each e-mail; `send` False leaves the e-mails in the outbox for
    ``notify.messages_send`` (another worker, a later sweep)."""
    claims_due, escalations_due, emails_due = due_work(now=now)
    breached = reminded = messages = 0
    reassign = False
    if claims_due:
        reassign = (
            agreement.body.slas.sales.reassign_on_breach
            if agreement is not None
            else _reassigns_on_breach()
        )
        while True:
            # One round: breaches and reminders claimed with their messages in one transaction,
            # so a claim never commits without them.
            with transaction.atomic():
                breaches = claim(MessagePurpose.BREACH, now=now, batch=batch, reassign=reassign)
                reminders = claim(MessagePurpose.REMINDER, now=now, batch=batch, reassign=False)
            breached += breaches.clocks
            reminded += reminders.clocks
            messages += breaches.messages + reminders.messages
            if breaches.clocks < batch and reminders.clocks < batch:
                break
    escalated = 0
    if escalations_due or (breached and reassign):
        escalated, more = _escalate_pending(
            now=now, agreement=agreement or agreement_in_force(), batch=batch
        )
        messages += more
    sent = SendResult(sent=0, failed=0)
    # Whatever the probe saw: once claims were tried, another sweep may have written e-mails
    # meanwhile (its claim committed between our probe and our own claim).
    if send and (emails_due or claims_due or escalations_due):
        sent = messages_send(throttle=throttle)
    return SweepResult(
        breached=breached,
        reminded=reminded,
        escalated=escalated,
        messages=messages,
        emails_sent=sent.sent,
        emails_failed=sent.failed,
    )


def _reassigns_on_breach() -> bool:
    """The agreement in force's reassign_on_breach, read alone with one plain query (the whole
    agreement is parsed only when there is an escalation to make). No version in force yet: the
    defaults, which do not reassign."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT body FROM {AgreementVersion._meta.db_table} WHERE status = %s",
            [AgreementStatus.IN_FORCE.value],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    body = json.loads(row[0]) if isinstance(row[0], str | bytes) else row[0]
    return bool(body.get("slas", {}).get("sales", {}).get("reassign_on_breach", False))


def _escalate_pending(
    *, now: dt.datetime, agreement: AgreementInForce, batch: int
) -> tuple[int, int]:
    """Take each breached lead the agreement reassigns back to its team's queue, once."""
    pending = list(
        SlaClock.objects.filter(escalate=True, escalated_at__isnull=True)
        .order_by("breach_handled_at")
        .values_list("pk", "lead_id")[:batch]
    )
    escalated = written = 0
    for clock_id, lead_id in pending:
        try:
            done = _escalate(clock_id, lead_id, now=now, agreement=agreement)
        except LeadloopError as e:
            log.warning("Clock %s: the escalation failed: %s", clock_id, e.message)
            continue
        if done is not None:
            escalated += 1
            written += done
    return escalated, written


@transaction.atomic
def _escalate(
    clock_id: int, lead_id: int, *, now: dt.datetime, agreement: AgreementInForce
) -> int | None:
    # The lead first, then the clock: the order lifecycle and routing lock in.
    lead = Lead.objects.select_for_update(of=("self",)).filter(pk=lead_id).first()
    if lead is None:
        return None
    if not SlaClock.objects.filter(pk=clock_id, escalate=True, escalated_at__isnull=True).update(
        escalated_at=now
    ):
        return None  # another sweep took it
    clock = SlaClock.objects.select_related("team").get(pk=clock_id)
    if clock.stopped_at is not None or lead.owner_id != clock.owner_id:
        return None  # answered or reassigned meanwhile: nothing to take back
    queue = clock.team
    if queue is None or queue.kind != TeamKind.SALES:
        queue = team_queue(name=agreement.body.routing.fallback_queue, kind=TeamKind.SALES)
    assignment = lead_queue_set(
        lead_id=lead_id,
        queue=queue,
        kind=AssignmentKind.ESCALATION,
        why=f"{clock.get_kind_display()} was due {clock.due_at:%Y-%m-%d %H:%M} UTC "
        f"({clock.budget_label}); the agreement reassigns at a breach",
        agreement_version=agreement.number,
        at=now,
    )
    webhook_lead_assigned_emit(assignment=assignment)
    clocks_on_assignment(assignment_id=assignment.pk, agreement=agreement)
    return messages_write([clock.pk], MessagePurpose.ESCALATION, now=now, detail=queue.name)

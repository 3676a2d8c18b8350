"""In which words a clock's message speaks, and the sending of the outbox's e-mails, each once.

Each message is one ``SlaMessage`` row, unique per (clock, purpose, recipient), written with its
``Notification`` in the transaction that claims the clock (claims.py: who is told): the in-app
side exists exactly once by construction. The e-mail side is sent afterwards by
``messages_send``, outside any transaction:

    claim the row (UPDATE ... SET sending_at WHERE sent_at IS NULL AND not claimed, row count 1)
      ─▶ SMTP ─▶ UPDATE ... SET sent_at WHERE sent_at IS NULL

A second worker finds the row claimed or sent and skips it. A worker killed after its claim
leaves the row claimed; after ``SEND_LEASE`` another sweep sends it. The one window no outbox
can close is a kill between the SMTP server's "250 OK" and the commit of ``sent_at``: then the
message goes out again, with the same ``Message-ID`` header (``<sla-message-ID@leadloop>``), so
mail software can tell the copy. The words are rendered when the message is sent or shown, in
the recipient's time zone, from the clock as it is then.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import F, Q
from django.utils import timezone

from leadloop.accounts.models import User
from leadloop.routing.selectors import rep_zone
from leadloop.sla.models import MessageChannel, MessagePurpose, SlaClock, SlaMessage
from leadloop.sla.timing import business_text

log = logging.getLogger(__name__)

SEND_LEASE = dt.timedelta(minutes=10)
SMTP_TIMEOUT = 30  # seconds to connect and for each SMTP answer


# --- Words --------------------------------------------------------------------------------------


def _when(at: dt.datetime, user: User) -> str:
    return f"{at.astimezone(rep_zone(user)):%a %d %b %H:%M %Z}"


def _lead_name(clock: SlaClock) -> str:
    lead = clock.lead
    company = f" ({lead.company})" if lead.company_id and lead.company else ""
    return f"{lead}{company}"


def _holder(clock: SlaClock) -> str:
    if clock.owner is not None:
        return str(clock.owner)
    return f"the {clock.team} queue" if clock.team is not None else "nobody"


@dataclass(frozen=True)
class Words:
    subject: str
    body: str  # the e-mail
    summary: str  # the in-app notification's text
    path: str  # the lead page


def words(message: SlaMessage) -> Words:
    """What `message` says about its clock to its recipient, times in the recipient's zone.
    Needs the message with its clock's lead and company, owner and team, and its recipient."""
    clock, user, purpose = message.clock, message.recipient, message.purpose
    kind = clock.get_kind_display().lower()
    lead, due = _lead_name(clock), _when(clock.due_at, user)
    agreed = (
        f"The agreement (version {clock.agreement_version}) gives {clock.budget_label} "
        f"for the {kind}, counted from {_when(clock.started_at, user)}."
    )
    if purpose == MessagePurpose.REMINDER:
        left = business_text(clock.remind_before or dt.timedelta(0))
        subject = f"Reminder: {kind} for {lead} due {due}"
        first = f"The {kind} for {lead} is due {due}: {left} left."
        if clock.owner is None:
            first = (
                f"The {kind} for {lead}, waiting in {_holder(clock)}, is due {due}: {left} left."
            )
    elif purpose == MessagePurpose.BREACH:
        subject = f"SLA breached: {kind} for {lead} ({_holder(clock)})"
        first = (
            f"The {kind} for {lead}, held by {_holder(clock)}, was due {due} and has not happened."
        )
    else:
        queue = message.detail
        subject = f"{lead} was taken back to the {queue} queue"
        first = (
            f"The {kind} for {lead} was due {due}; as the agreement says, the lead went back to "
            f"the {queue} queue for your manager to hand on."
        )
    path = clock.lead.get_absolute_url()
    body = (
        f"Hello {user.first_name or user.username},\n\n{first}\n{agreed}\n\n"
        f"Open the lead: {_absolute(path)}\n\n-- Leadloop\n"
    )
    return Words(subject=subject[:200], body=body, summary=first, path=path)


def _absolute(path: str) -> str:
    return settings.LEADLOOP_BASE_URL.rstrip("/") + path


MESSAGE_RELATED = ("clock__lead__company", "clock__owner__team", "clock__team", "recipient__team")


# --- Sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    sent: int
    failed: int


def messages_send(*, limit: int = 1000, throttle: float = 0.0) -> SendResult:
    """E-mail the outbox's unsent messages, each at most once (see the module docstring).

    Runs outside transactions: each claim and each mark commits on its own. `throttle` waits
    that many seconds after each message (a rate-limited relay). A server that cannot be
    reached ends the run; the messages stay for the next sweep.
    """
    lease_over = timezone.now() - SEND_LEASE
    sendable = Q(sent_at__isnull=True, channel=MessageChannel.EMAIL) & (
        Q(sending_at__isnull=True) | Q(sending_at__lt=lease_over)
    )
    ids = list(
        SlaMessage.objects.filter(sendable).order_by("id").values_list("id", flat=True)[:limit]
    )
    if not ids:
        return SendResult(sent=0, failed=0)
    # Read and worded in one query; each is still claimed on its own just before it is sent.
    pending = list(
        SlaMessage.objects.filter(pk__in=ids).select_related(*MESSAGE_RELATED).order_by("id")
    )
    sent = failed = 0
    connection = get_connection(fail_silently=False, timeout=SMTP_TIMEOUT)
    try:
        for message in pending:
            message_id = message.pk
            if not SlaMessage.objects.filter(sendable, pk=message_id).update(
                sending_at=timezone.now(), attempts=F("attempts") + 1
            ):
                continue  # another worker has it
            text = words(message)
            try:
                _email(message, text, connection).send()
            except smtplib.SMTPRecipientsRefused as e:
                failed += 1
                _release(message_id, e)
                continue
            except (smtplib.SMTPException, OSError) as e:
                failed += 1
                _release(message_id, e)
                log.warning("SLA e-mail not sent, the server is unreachable: %s", e)
                break
            SlaMessage.objects.filter(pk=message_id, sent_at__isnull=True).update(
                sent_at=timezone.now(), sending_at=None, last_error="", subject=text.subject
            )
            sent += 1
            if throttle:
                time.sleep(throttle)
    finally:
        connection.close()
    return SendResult(sent=sent, failed=failed)


def _email(message: SlaMessage, text: Words, connection: BaseEmailBackend) -> EmailMessage:
    return EmailMessage(
        subject=text.subject,
        body=text.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient.email],
        connection=connection,
        headers={"Message-ID": f"<sla-message-{message.pk}@leadloop>"},
    )


def _release(message_id: int, error: Exception) -> None:
    SlaMessage.objects.filter(pk=message_id, sent_at__isnull=True).update(
        sending_at=None, last_error=f"{type(error).__name__}: {error}"[:1000]
    )

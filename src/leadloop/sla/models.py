"""SLA clocks of both teams, the outbox of their reminders and escalations, in-app
notifications, and the stored marketing delivery results.

A clock is one obligation: it starts at its trigger (an assignment, an acceptance), is due after
the agreed business time in its holder's team calendar, and stops at its goal event (an answer,
a contact attempt, a decision). Its holder is a person (``owner``) or, while the lead waits in a
sales queue, the team (``owner`` empty). METRICS.md, "SLAs", defines met and breached.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadloop.accounts.models import Team
from leadloop.leads.models import Lead
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment


class ClockKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    CONTACT_ATTEMPT = "contact_attempt", _("Contact attempt")
    DECISION = "decision", _("Decision")


class ClockOutcome(models.TextChoices):
    OPEN = "open", _("Running")
    MET = "met", _("Met")
    BREACHED = "breached", _("Breached")
    CANCELLED = "cancelled", _("Cancelled")
    REASSIGNED = "reassigned", _("Reassigned")


class SlaClock(models.Model):
    """One obligation of a lead's holder, with its business-time due time and its outcome.

    ``due_at`` already contains any pause: when the agreement pauses clocks while the owner is
    out of office, the due time moves by the business time of the absence (``paused``). The
    sweep claims a clock's reminder with ``reminded_at`` and its breach with
    ``breach_handled_at`` (conditional UPDATEs), so each happens once.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="sla_clocks")
    cycle = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=ClockKind.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sla_clocks",
        help_text=_("Empty: the team queue holds the lead"),
    )
    # Indexed by (team, due_at) below, which serves the foreign key too: on PostgreSQL every
    # claim by the sweep writes an entry into each index of the table, so none is redundant.
    team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sla_clocks",
        help_text=_("The team whose calendar counts the business time"),
        db_index=False,
    )
    started_at = models.DateTimeField()
    budget_hours = models.FloatField(null=True, blank=True, help_text=_("As agreed, in hours"))
    budget_days = models.FloatField(null=True, blank=True, help_text=_("As agreed, in days"))
    budget = models.DurationField(help_text=_("Business time the clock must run until due"))
    due_at = models.DateTimeField()
    remind_before = models.DurationField(null=True, blank=True)
    remind_at = models.DateTimeField(null=True, blank=True)
    pauses = models.BooleanField(
        default=False, help_text=_("Stops running while the owner is out of office")
    )
    paused = models.DurationField(
        default=timedelta(0), help_text=_("Business time the due time moved by for absences")
    )
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_cause = models.CharField(max_length=200, blank=True)
    goal_reached = models.BooleanField(
        default=False, help_text=_("Stopped by its goal event (not by a reassignment)")
    )
    outcome = models.CharField(
        max_length=20, choices=ClockOutcome.choices, default=ClockOutcome.OPEN
    )
    breached_at = models.DateTimeField(
        null=True, blank=True, help_text=_("The due time that passed while the clock ran")
    )
    agreement_version = models.PositiveIntegerField(null=True, blank=True)
    assignment = models.ForeignKey(
        Assignment,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sla_clocks",
        help_text=_("The assignment that started the clock"),
        db_index=False,  # the unique (assignment, kind) below serves it
    )
    stage_change = models.ForeignKey(
        StageChange,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sla_clocks",
        help_text=_("The stage change that started the clock"),
        db_index=False,  # the unique (stage_change, kind) below serves it
    )
    reminded_at = models.DateTimeField(null=True, blank=True)
    breach_handled_at = models.DateTimeField(null=True, blank=True)
    escalate = models.BooleanField(
        default=False, help_text=_("The breach reassigns the lead (the agreement says so)")
    )
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # One running clock of each kind per lead: two workers cannot start the same one.
            models.UniqueConstraint(
                fields=["lead", "kind"],
                condition=Q(stopped_at__isnull=True),
                name="slaclock_one_running_per_kind",
            ),
            models.UniqueConstraint(
                fields=["assignment", "kind"],
                condition=Q(assignment__isnull=False),
                name="slaclock_once_per_assignment",
            ),
            models.UniqueConstraint(
                fields=["stage_change", "kind"],
                condition=Q(stage_change__isnull=False),
                name="slaclock_once_per_stage_change",
            ),
        ]
        indexes = [
            # The sweep's claims: range scans over the clocks still waiting for it.
            models.Index(
                fields=["remind_at"],
                condition=Q(
                    stopped_at__isnull=True,
                    reminded_at__isnull=True,
                    breach_handled_at__isnull=True,
                    remind_at__isnull=False,
                ),
                name="slaclock_remind_pending",
            ),
            models.Index(
                fields=["due_at"],
                condition=Q(stopped_at__isnull=True, breach_handled_at__isnull=True),
                name="slaclock_breach_pending",
            ),
            models.Index(
                fields=["breach_handled_at"],
                condition=Q(escalate=True, escalated_at__isnull=True),
                name="slaclock_escalate_pending",
            ),
            models.Index(
                fields=["owner", "due_at"],
                condition=Q(stopped_at__isnull=True),
                name="slaclock_owner_running",
            ),
            models.Index(fields=["team", "due_at"], name="slaclock_team_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of lead {self.lead_id}, due {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def budget_label(self) -> str:
        """The budget as agreed: "16 business hours", "5 business days"."""
        amount, unit = (
            (self.budget_days, "day")
            if self.budget_days is not None
            else (self.budget_hours, "hour")
        )
        return f"{amount or 0:g} business {unit}{'' if amount == 1 else 's'}"


class MessagePurpose(models.TextChoices):
    REMINDER = "reminder", _("Reminder")
    BREACH = "breach", _("Breach")
    ESCALATION = "escalation", _("Escalation")


class MessageChannel(models.TextChoices):
    EMAIL = "email", _("E-mail and in-app")
    IN_APP = "in_app", _("In-app only (no e-mail address)")


class SlaMessage(models.Model):
    """The outbox: one message per clock, purpose and recipient (unique), written in the
    transaction that claims the clock; e-mailed afterwards, outside any transaction. Its words
    are rendered from the clock when it is sent or shown (``notify.words``).

    Sending claims the row first (``sending_at``, a conditional UPDATE) and marks ``sent_at``
    after the SMTP server accepted it, so two workers never send one message twice.
    """

    # Indexed by the unique (clock, purpose, recipient) below, which serves the foreign key too.
    # The outbox's foreign keys are not database constraints (db_constraint=False here and on
    # Notification): the sweep writes these rows by the thousand from clocks and users it reads
    # in the same statement, and the deferred checks would cost more than the writes at commit.
    # Deleting a clock or a user still deletes their messages (Django's on_delete).
    clock = models.ForeignKey(
        SlaClock,
        on_delete=models.CASCADE,
        related_name="messages",
        db_index=False,
        db_constraint=False,
    )
    purpose = models.CharField(max_length=20, choices=MessagePurpose.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="sla_messages",
        db_index=False,  # nothing looks messages up by recipient; the sweep writes many
        db_constraint=False,
    )
    channel = models.CharField(max_length=10, choices=MessageChannel.choices)
    detail = models.CharField(
        max_length=200, blank=True, help_text=_("The queue an escalated lead went to")
    )
    subject = models.CharField(
        max_length=200, blank=True, help_text=_("The subject as e-mailed (set when sent)")
    )
    created_at = models.DateTimeField(default=timezone.now)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clock", "purpose", "recipient"], name="slamessage_once_per_recipient"
            ),
        ]
        indexes = [
            models.Index(
                fields=["id"],
                condition=Q(sent_at__isnull=True, channel="email"),
                name="slamessage_unsent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} to {self.recipient_id} for clock {self.clock_id}"


class Notification(models.Model):
    """The in-app side of an SLA message: the bell in the header lists it until it is read.

    Its key is the message itself (the primary key), so each message is notified exactly once;
    its title, text and link are rendered from the message's clock when shown
    (``selectors.notification_list``), in the reader's time zone.
    """

    message = models.OneToOneField(
        SlaMessage,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="notification",
        db_constraint=False,  # see SlaMessage.clock
    )
    # Indexed by (user, read_at) below, which serves the foreign key too.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-message"]
        # One index for both reads: a person's unread count, and their list (sorted after).
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_read")]

    def __str__(self) -> str:
        return f"Notification of message {self.message_id} for {self.user_id}"


class MarketingSlaResult(models.Model):
    """Marketing's delivery in one period against the agreement, evaluated once at its end.

    Delivered: MQLs handed to sales in [period_start, period_end); good fit: of those, grade A
    or B at hand-off; accepted share: accepted / answered among them (METRICS.md, "SLAs").
    A share is None when its denominator is 0 ("no data", not 0 %).
    """

    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    delivered = models.PositiveIntegerField()
    target = models.PositiveIntegerField()
    good_fit = models.PositiveIntegerField()
    good_fit_share = models.FloatField(null=True, blank=True)
    good_fit_target = models.FloatField()
    answered = models.PositiveIntegerField()
    accepted = models.PositiveIntegerField()
    accepted_share = models.FloatField(null=True, blank=True)
    accepted_target = models.FloatField()
    delivered_met = models.BooleanField()
    good_fit_met = models.BooleanField(null=True, blank=True)
    accepted_met = models.BooleanField(null=True, blank=True)
    agreement_version = models.PositiveIntegerField(null=True, blank=True)
    evaluated_at = models.DateTimeField()

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["period_start", "period_end"], name="marketingslaresult_once_per_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")),
                name="marketingslaresult_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"Marketing SLA {self.period_start:%Y-%m-%d}: {self.delivered}/{self.target}"

"""The sweep: reminders before the due time, managers told at a breach, reassignment when the
agreement says so; by e-mail through a real SMTP server and in-app; each message once."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings

from leadloop.accounts.models import Role
from leadloop.leads.models import Lead, Stage
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.sla.models import (
    ClockKind,
    ClockOutcome,
    MessageChannel,
    MessagePurpose,
    Notification,
    SlaClock,
    SlaMessage,
)
from leadloop.sla.selectors import notification_list
from leadloop.sla.services import clocks_on_assignment, clocks_on_stage_change
from leadloop.sla.sweep import SweepResult, sla_sweep
from tests.sla.conftest import free_port
from tests.sla.factories import assign, move, mql, person, sales_team, sla_agreement

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
UTC = dt.UTC
START = dt.datetime(2026, 3, 2, 10, tzinfo=BERLIN)  # Monday 10:00: due Tuesday 17:30
REMIND = dt.datetime(2026, 3, 3, 15, 30, tzinfo=BERLIN)
DUE = dt.datetime(2026, 3, 3, 17, 30, tzinfo=BERLIN)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def team() -> Any:
    return sales_team()


@pytest.fixture
def ana(team: Any) -> Any:
    return person("ana", team=team, email="ana@example.com")


@pytest.fixture
def mia(team: Any) -> Any:
    return person("mia", role=Role.SALES_MANAGER, team=team, email="mia@example.com")


def _clocks(*reps: Any, agreement: Any = None) -> list[SlaClock]:
    """One MQL assigned to each rep at START, with its first-response clock."""
    agreement = agreement or sla_agreement()
    with time_machine.travel(START, tick=False):
        return [
            clocks_on_assignment(assignment_id=assign(mql(), rep).pk, agreement=agreement).started[
                0
            ]
            for rep in reps
        ]


def test_nothing_is_sent_before_the_reminder_time(smtp, ana):
    _clocks(ana)

    result = sla_sweep(now=REMIND - MINUTE)

    assert result == SweepResult(0, 0, 0, 0, 0, 0)
    assert smtp.count() == 0


def test_the_owner_is_reminded_by_email_and_in_app_before_the_due_time(smtp, ana, mia):
    (clock,) = _clocks(ana)

    result = sla_sweep(now=REMIND)

    assert (result.reminded, result.breached, result.messages, result.emails_sent) == (1, 0, 1, 1)
    (mail,) = smtp.mails
    assert mail.to == ("ana@example.com",)
    assert (
        mail.subject
        == f"Reminder: first response for {clock.lead} ({clock.lead.company}) due Tue 03 Mar 17:30 CET"
    )
    assert "is due Tue 03 Mar 17:30 CET: 2 business hours left." in mail.body
    assert f"http://127.0.0.1:8000/leads/{clock.lead_id}/" in mail.body
    message = SlaMessage.objects.get()
    assert mail.message_id == f"<sla-message-{message.pk}@leadloop>"
    assert (message.purpose, message.recipient, message.subject) == (
        MessagePurpose.REMINDER, ana, mail.subject,
    )  # fmt: skip
    assert message.sent_at is not None
    (note,) = notification_list(user=ana)
    assert (note.title, note.url, note.read_at) == (mail.subject, f"/leads/{clock.lead_id}/", None)
    assert (
        note.body
        == f"The first response for {clock.lead} ({clock.lead.company}) is due Tue 03 Mar 17:30 CET: 2 business hours left."
    )
    assert Notification.objects.get().message == message
    clock.refresh_from_db()
    assert clock.reminded_at == REMIND


def test_a_sweep_run_twice_sends_each_reminder_once(smtp, ana, team):
    ben = person("ben", team=team, email="ben@example.com")
    _clocks(ana, ben, ana)

    first = sla_sweep(now=REMIND)
    second = sla_sweep(now=REMIND + MINUTE)

    assert (first.reminded, first.emails_sent) == (3, 3)
    assert (second.reminded, second.messages, second.emails_sent) == (0, 0, 0)
    assert sorted(m.to[0] for m in smtp.mails) == [
        "ana@example.com",
        "ana@example.com",
        "ben@example.com",
    ]
    assert SlaMessage.objects.count() == Notification.objects.count() == 3
    assert len({m.message_id for m in smtp.mails}) == 3


def test_at_the_breach_the_owners_managers_are_told_once(smtp, ana, mia, team):
    person("max", role=Role.SALES_MANAGER, team=team, email="max@example.com")
    person(
        "other", role=Role.SALES_MANAGER, team=sales_team("Sales Nordics"), email="o@example.com"
    )
    (clock,) = _clocks(ana)

    result = sla_sweep(now=DUE)
    again = sla_sweep(now=DUE + MINUTE)

    assert (result.breached, result.reminded, result.emails_sent) == (1, 0, 2)
    assert again == SweepResult(0, 0, 0, 0, 0, 0)
    assert sorted(m.to[0] for m in smtp.mails) == ["max@example.com", "mia@example.com"]
    assert (
        smtp.mails[0].subject
        == f"SLA breached: first response for {clock.lead} ({clock.lead.company}) (Ana)"
    )
    clock.refresh_from_db()
    assert (clock.outcome, clock.breached_at, clock.breach_handled_at) == (
        ClockOutcome.BREACHED, DUE.astimezone(UTC), DUE,
    )  # fmt: skip
    assert clock.reminded_at is None  # a breach makes a reminder pointless
    assert clock.running
    assert not clock.escalate


def test_a_breach_in_a_team_without_a_manager_goes_to_the_revenue_leaders(smtp, ana):
    person("rita", role=Role.REVENUE_LEADER, email="rita@example.com")
    _clocks(ana)

    sla_sweep(now=DUE)

    assert [m.to for m in smtp.mails] == [("rita@example.com",)]


def test_a_clock_answered_in_time_is_neither_reminded_nor_breached(smtp, ana, mia):
    (clock,) = _clocks(ana)
    with time_machine.travel(START + dt.timedelta(hours=1), tick=False):
        clocks_on_stage_change(change_id=move(clock.lead, Stage.SAL).pk)

    sla_sweep(now=REMIND)
    sla_sweep(now=DUE)

    assert SlaMessage.objects.filter(clock=clock).count() == 0
    assert not [m for m in smtp.mails if "first response" in m.subject]


def test_a_person_without_an_email_address_is_told_in_the_app_only(smtp, team):
    ida = person("ida", team=team, email="")
    _clocks(ida)

    result = sla_sweep(now=REMIND)

    assert (result.messages, result.emails_sent, smtp.count()) == (1, 0, 0)
    message = SlaMessage.objects.get()
    assert (message.channel, message.sent_at) == (MessageChannel.IN_APP, None)
    assert Notification.objects.get().user == ida


def test_the_agreement_reassigns_a_breached_lead_to_the_team_queue(smtp, ana, mia, team):
    agreement = sla_agreement(reassign_on_breach=True)
    (clock,) = _clocks(ana, agreement=agreement)

    result = sla_sweep(now=DUE)
    again = sla_sweep(now=DUE + MINUTE)

    assert (result.breached, result.escalated, again.escalated) == (1, 1, 0)
    lead = Lead.objects.get(pk=clock.lead_id)
    assert (lead.owner, lead.queue) == (None, team)
    escalation = Assignment.objects.get(kind=AssignmentKind.ESCALATION)
    assert (escalation.previous_assignee, escalation.queue, escalation.agreement_version) == (
        ana, team, agreement.number,
    )  # fmt: skip
    assert escalation.why == (
        "First response was due 2026-03-03 16:30 UTC (16 business hours); "
        "the agreement reassigns at a breach"
    )
    clock.refresh_from_db()
    assert (clock.outcome, clock.stopped_at, clock.stop_cause) == (
        ClockOutcome.BREACHED, DUE.astimezone(UTC), "reassigned to the Sales DACH queue",
    )  # fmt: skip
    team_clock = SlaClock.objects.get(stopped_at__isnull=True)
    assert (team_clock.owner, team_clock.team, team_clock.kind, team_clock.assignment) == (
        None, team, ClockKind.FIRST_RESPONSE, escalation,
    )  # fmt: skip
    told = sorted((m.to[0], m.subject) for m in smtp.mails)
    assert told == [
        ("ana@example.com", f"{lead} ({lead.company}) was taken back to the Sales DACH queue"),
        ("mia@example.com", f"SLA breached: first response for {lead} ({lead.company}) (Ana)"),
    ]


def test_a_team_clock_breach_tells_the_managers_and_is_not_escalated_again(smtp, ana, mia, team):
    agreement = sla_agreement(reassign_on_breach=True)
    _clocks(ana, agreement=agreement)
    sla_sweep(now=DUE)
    team_clock = SlaClock.objects.get(stopped_at__isnull=True)

    result = sla_sweep(now=team_clock.due_at)

    assert (result.breached, result.escalated) == (1, 0)
    assert smtp.mails[-1].subject.endswith("(the Sales DACH queue)")
    assert smtp.mails[-1].to == ("mia@example.com",)


def test_a_lead_answered_between_breach_and_escalation_stays_with_its_owner(smtp, ana, mia):
    agreement = sla_agreement(reassign_on_breach=True)
    (clock,) = _clocks(ana, agreement=agreement)
    SlaClock.objects.filter(pk=clock.pk).update(
        breach_handled_at=DUE, outcome=ClockOutcome.BREACHED, breached_at=DUE, escalate=True
    )
    with time_machine.travel(DUE + MINUTE, tick=False):
        clocks_on_stage_change(change_id=move(clock.lead, Stage.SAL).pk)

    result = sla_sweep(now=DUE + 2 * MINUTE, agreement=agreement)

    assert result.escalated == 0
    assert Lead.objects.get(pk=clock.lead_id).owner == ana


def test_an_unreachable_smtp_server_keeps_the_messages_for_the_next_sweep(smtp, ana):
    _clocks(ana)
    with override_settings(EMAIL_PORT=free_port()):
        failed = sla_sweep(now=REMIND)

    retried = sla_sweep(now=REMIND + MINUTE)

    assert (failed.reminded, failed.emails_sent, failed.emails_failed) == (1, 0, 1)
    message = SlaMessage.objects.get()
    assert (retried.reminded, retried.emails_sent, message.attempts) == (0, 1, 2)
    assert message.sent_at is not None
    assert message.last_error == ""
    assert smtp.count() == 1


def test_a_message_claimed_by_a_worker_that_died_is_sent_after_the_lease(smtp, ana):
    _clocks(ana)
    with override_settings(EMAIL_PORT=free_port()):
        sla_sweep(now=REMIND)
    SlaMessage.objects.update(sending_at=dt.datetime(2026, 3, 3, 14, tzinfo=UTC))

    with time_machine.travel(dt.datetime(2026, 3, 3, 14, 5, tzinfo=UTC), tick=False):
        within = sla_sweep(now=REMIND)
    with time_machine.travel(dt.datetime(2026, 3, 3, 14, 11, tzinfo=UTC), tick=False):
        after = sla_sweep(now=REMIND)

    assert (within.emails_sent, after.emails_sent, smtp.count()) == (0, 1, 1)


def test_the_command_sweeps_as_of_the_given_time(smtp, ana, capsys):
    _clocks(ana)

    call_command("sla_sweep", "--now", REMIND.isoformat())

    assert capsys.readouterr().out.strip() == (
        "breached 0, reminded 1, escalated 0, messages 1, e-mails sent 1, failed 0"
    )
    assert smtp.count() == 1


def test_the_command_refuses_a_time_without_zone():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--now: '2026-03-03T10:00' needs a time zone"):
        call_command("sla_sweep", "--now", "2026-03-03T10:00")

"""Builders of SLA tests: a sales team with reps and a manager, an agreement with given sales
SLAs, and leads moved through the real lifecycle and routing services."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import factory
from django.utils import timezone

from leadloop.accounts.models import OutOfOffice, Role, Team, TeamKind, User
from leadloop.agreements.defaults import DEFAULT_BODY
from leadloop.agreements.models import AgreementStatus, AgreementVersion
from leadloop.agreements.schema import AgreementBody
from leadloop.agreements.selectors import AgreementInForce
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import lead_transition
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.routing.services import lead_assign, lead_queue_set
from leadloop.sla.models import (
    ClockKind,
    MessageChannel,
    MessagePurpose,
    Notification,
    SlaClock,
    SlaMessage,
)
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory
from tests.routing.factories import AgreementVersionFactory


def sla_agreement(*, marketing: dict[str, Any] | None = None, **sales: Any) -> AgreementInForce:
    """An agreement in force whose sales SLAs have the given fields (the defaults otherwise:
    16 business hours to answer, 8 to a contact attempt, 5 business days to decide, reminders
    2 business hours ahead, pause when away, no reassignment at a breach)."""
    body = copy.deepcopy(DEFAULT_BODY)
    body["slas"]["sales"].update(sales)
    body["slas"]["marketing"].update(marketing or {})
    parsed = AgreementBody.model_validate(body)
    AgreementVersion.objects.filter(status=AgreementStatus.IN_FORCE).update(
        status=AgreementStatus.SUPERSEDED
    )
    version = AgreementVersionFactory(body=parsed.model_dump(mode="json"))
    return AgreementInForce(version=version, body=parsed)


def sales_team(name: str = "Sales DACH", **fields: Any) -> Team:
    fields.setdefault("time_zone", "Europe/Berlin")
    fields.setdefault("country", "DE")
    return TeamFactory(name=name, kind=TeamKind.SALES, **fields)


def person(
    username: str, *, role: Role = Role.SALES_REP, team: Team | None = None, **f: Any
) -> User:
    f.setdefault("first_name", username.capitalize())
    f.setdefault("last_name", "")
    return UserFactory(username=username, role=role, team=team, **f)


def admin() -> User:
    return person("root", role=Role.ADMIN)


def mql(*, at: dt.datetime | None = None, **fields: Any) -> Lead:
    """A lead that became MQL (at `at`) through lead_transition, in the marketing queue."""
    fields.setdefault("queue", TeamFactory(name="Marketing", kind=TeamKind.MARKETING))
    lead = LeadFactory(stage=Stage.LEAD, **fields)
    lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=None, rule="score thresholds", at=at)
    lead.refresh_from_db()
    return lead


def assign(lead: Lead, to: User) -> Assignment:
    """Hand `lead` to `to` by hand (an admin), now."""
    return lead_assign(
        lead_id=lead.pk, actor=admin(), assignee=to, why="test", agreement_version=None
    )


def to_queue(lead: Lead, queue: Team, kind: AssignmentKind = AssignmentKind.FALLBACK) -> Assignment:
    return lead_queue_set(lead_id=lead.pk, queue=queue, kind=kind, why="test")


def move(lead: Lead, to: Stage, *, reason: str = "", at: dt.datetime | None = None) -> StageChange:
    return lead_transition(lead_id=lead.pk, to=to, actor=None, reason=reason, at=at)


def away(user: User, starts_at: dt.datetime, ends_at: dt.datetime) -> OutOfOffice:
    return OutOfOffice.objects.create(user=user, starts_at=starts_at, ends_at=ends_at)


class SlaClockFactory(factory.django.DjangoModelFactory):
    """A clock row as the services write it (for reading tests): a first response, 16 hours."""

    class Meta:
        model = SlaClock

    lead = factory.SubFactory(LeadFactory, stage=Stage.MQL, cycle=1)
    cycle = 1
    kind = ClockKind.FIRST_RESPONSE
    owner = None
    team = factory.LazyAttribute(lambda c: c.owner.team if c.owner else None)
    started_at = factory.LazyFunction(timezone.now)
    budget_hours = 16.0
    budget = dt.timedelta(hours=16)
    due_at = factory.LazyAttribute(lambda c: c.started_at + dt.timedelta(days=1))
    agreement_version = 1


def notification(
    user: User, *, at: dt.datetime | None = None, read: bool = False, **clock: Any
) -> Notification:
    """A reminder to `user` about a clock of theirs, as the sweep writes it, with its in-app
    notification (created `at`, read or not)."""
    at = at or timezone.now()
    message = SlaMessage.objects.create(
        clock=SlaClockFactory(owner=user, **clock),
        purpose=MessagePurpose.REMINDER,
        recipient=user,
        channel=MessageChannel.EMAIL,
        created_at=at,
    )
    return Notification.objects.create(
        message=message, user=user, created_at=at, read_at=at if read else None
    )

"""Factories of routing tests: an agreement in force with given routing, reps, MQLs."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import factory
from django.db.models import Max
from django.utils import timezone

from leadloop.accounts.models import OutOfOffice, Role, Team, User
from leadloop.agreements.defaults import DEFAULT_BODY
from leadloop.agreements.models import AgreementStatus, AgreementVersion
from leadloop.agreements.schema import AgreementBody
from leadloop.agreements.selectors import AgreementInForce
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import lead_transition
from tests.accounts.factories import TeamFactory, UserFactory


class AgreementVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgreementVersion

    # The next number in this database: a test's first version is 1, whatever ran before.
    number = factory.LazyFunction(
        lambda: (AgreementVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
    )
    title = "Test agreement"
    body = factory.LazyFunction(lambda: copy.deepcopy(DEFAULT_BODY))
    status = AgreementStatus.IN_FORCE
    effective_at = factory.LazyFunction(timezone.now)


def agreement(
    *,
    rules: list[dict[str, Any]] | None = None,
    handoff: dict[str, Any] | None = None,
    **routing: Any,
) -> AgreementInForce:
    """An agreement in force whose routing has `rules` (default: none) and the given fields
    (cap_per_day, cap_per_week, skip_out_of_office, fallback_queue...); no caps by default."""
    body = copy.deepcopy(DEFAULT_BODY)
    body["routing"] = {"rules": rules or [], "cap_per_day": None, "cap_per_week": None, **routing}
    if handoff is not None:
        body["handoff"] = {**body["handoff"], **handoff}
    parsed = AgreementBody.model_validate(body)
    version = AgreementVersionFactory(body=parsed.model_dump(mode="json"))
    return AgreementInForce(version=version, body=parsed)


def rep(username: str, *, team: Team | None = None, **fields: Any) -> User:
    """A sales rep called `username` (first name: the username capitalised)."""
    fields.setdefault("first_name", username.capitalize())
    fields.setdefault("last_name", "")
    return UserFactory(username=username, role=Role.SALES_REP, team=team, **fields)


def sales_team(name: str = "Sales DACH", *reps: str, time_zone: str = "Europe/Berlin") -> Team:
    """A sales team with reps of the given usernames."""
    team = TeamFactory(name=name, time_zone=time_zone)
    for username in reps:
        rep(username, team=team)
    return team


def qualify(lead: Lead, *, at: dt.datetime | None = None) -> StageChange:
    """Move `lead` into MQL (the system, by the score thresholds): the routing's input."""
    return lead_transition(
        lead_id=lead.pk, to=Stage.MQL, actor=None, rule="score thresholds", at=at
    )


def away(user: User, *, starts_at: dt.datetime, ends_at: dt.datetime) -> OutOfOffice:
    return OutOfOffice.objects.create(user=user, starts_at=starts_at, ends_at=ends_at)

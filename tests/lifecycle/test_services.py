from __future__ import annotations

import datetime as dt

import pytest

from leadloop.accounts.models import Role
from leadloop.leads.models import Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import (
    ALLOWED,
    ReasonRequired,
    TransitionNotAllowed,
    lead_transition,
)
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def test_accepting_an_mql_records_who_and_when(time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 10, tzinfo=UTC), tick=False)
    rep = UserFactory(role=Role.SALES_REP)
    lead = LeadFactory(stage=Stage.MQL)

    change = lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=rep)

    lead.refresh_from_db()
    assert lead.stage == Stage.SAL
    assert lead.sal_first_at == lead.sal_last_at == dt.datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert (change.from_stage, change.to_stage, change.actor, change.at) == (
        Stage.MQL,
        Stage.SAL,
        rep,
        dt.datetime(2026, 3, 2, 10, tzinfo=UTC),
    )


def test_mql_cannot_jump_to_customer():
    lead = LeadFactory(stage=Stage.MQL)

    with pytest.raises(TransitionNotAllowed, match="from MQL to Customer"):
        lead_transition(lead_id=lead.pk, to=Stage.CUSTOMER, actor=None)

    assert StageChange.objects.count() == 0


def test_a_repeated_transition_is_refused_and_writes_one_row():
    lead = LeadFactory(stage=Stage.MQL)
    lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=None, rule="test")

    with pytest.raises(TransitionNotAllowed):
        lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=None, rule="test")

    assert StageChange.objects.filter(lead=lead).count() == 1


def test_rejecting_without_reason_is_refused():
    lead = LeadFactory(stage=Stage.MQL)

    with pytest.raises(ReasonRequired, match="from MQL to Nurture needs a reason"):
        lead_transition(lead_id=lead.pk, to=Stage.NURTURE, actor=None)

    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


def test_requalifying_opens_a_new_cycle_and_keeps_the_first_mql_date(time_machine):
    first = dt.datetime(2026, 1, 5, 9, tzinfo=UTC)
    second = dt.datetime(2026, 4, 7, 9, tzinfo=UTC)
    lead = LeadFactory(stage=Stage.LEAD)
    lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=None, rule="score", at=first)
    lead_transition(lead_id=lead.pk, to=Stage.NURTURE, actor=None, reason="not_now", at=first)

    change = lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=None, rule="score", at=second)

    lead.refresh_from_db()
    assert (lead.cycle, change.cycle) == (2, 2)
    assert (lead.mql_first_at, lead.mql_last_at) == (first, second)


def test_every_stage_has_a_way_forward_or_out():
    assert set(ALLOWED) == set(Stage)
    assert all(ALLOWED[stage] for stage in Stage)

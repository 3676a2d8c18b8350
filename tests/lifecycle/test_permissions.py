"""Who may move which lead by hand: lifecycle.permissions.move_refusal."""

from __future__ import annotations

import pytest

from leadloop.accounts.models import Role, TeamKind
from leadloop.leads.models import Stage
from leadloop.lifecycle.permissions import move_refusal
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales_team():
    return TeamFactory(name="Sales DACH", kind=TeamKind.SALES)


@pytest.fixture
def marketing_queue():
    return TeamFactory(name="Marketing", kind=TeamKind.MARKETING)


def test_a_rep_may_answer_for_the_leads_they_own(sales_team):
    rep = UserFactory(role=Role.SALES_REP, team=sales_team)
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    assert move_refusal(rep, lead, Stage.SAL) is None
    assert move_refusal(rep, lead, Stage.NURTURE) is None


def test_a_rep_may_not_move_another_reps_lead(sales_team):
    rep = UserFactory(role=Role.SALES_REP, team=sales_team)
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=sales_team))

    assert move_refusal(rep, lead, Stage.SAL) == "A sales rep can only move the leads they own."


def test_a_rep_may_not_move_a_lead_in_marketings_stages():
    rep = UserFactory(role=Role.SALES_REP)
    lead = LeadFactory(stage=Stage.NURTURE, owner=rep)

    assert move_refusal(rep, lead, Stage.MQL) == (
        "A sales rep cannot move a lead at Nurture: marketing owns it."
    )


def test_marketing_ops_may_not_accept_a_lead_sales_owns(sales_team):
    ops = UserFactory(role=Role.MARKETING_OPS)
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=sales_team))

    assert move_refusal(ops, lead, Stage.SAL) == (
        "Marketing ops cannot move a lead at MQL: sales owns it."
    )


def test_marketing_ops_may_move_leads_in_marketing_stages_and_mqls_in_its_queue(marketing_queue):
    ops = UserFactory(role=Role.MARKETING_OPS)

    assert move_refusal(ops, LeadFactory(stage=Stage.LEAD), Stage.MQL) is None
    assert move_refusal(ops, LeadFactory(stage=Stage.NURTURE), Stage.DISQUALIFIED) is None
    queued = LeadFactory(stage=Stage.MQL, owner=None, queue=marketing_queue)
    assert move_refusal(ops, queued, Stage.NURTURE) is None


def test_a_sales_manager_may_move_their_teams_leads_and_queue(sales_team):
    manager = UserFactory(role=Role.SALES_MANAGER, team=sales_team)
    teams_lead = LeadFactory(
        stage=Stage.SAL, owner=UserFactory(role=Role.SALES_REP, team=sales_team)
    )
    queued = LeadFactory(stage=Stage.MQL, owner=None, queue=sales_team)
    other = LeadFactory(
        stage=Stage.SAL,
        owner=UserFactory(role=Role.SALES_REP, team=TeamFactory(name="Sales Nordics")),
    )

    assert move_refusal(manager, teams_lead, Stage.SQL) is None
    assert move_refusal(manager, queued, Stage.SAL) is None
    assert move_refusal(manager, other, Stage.SQL) == (
        "A sales manager can only move the leads of their team."
    )


@pytest.mark.parametrize("role", [Role.REVENUE_LEADER, Role.ADMIN])
def test_the_revenue_leader_and_admins_may_move_every_lead(role):
    user = UserFactory(role=role)

    assert move_refusal(user, LeadFactory(stage=Stage.OPPORTUNITY), Stage.CUSTOMER) is None
    assert move_refusal(user, LeadFactory(stage=Stage.LEAD), Stage.MQL) is None

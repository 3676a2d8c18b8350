"""Reassigning by hand (who may, to whom, the record) and handing a lead to a queue."""

from __future__ import annotations

import pytest

from leadloop.accounts.models import Role, TeamKind
from leadloop.routing.models import Assignment, AssignmentKind
from leadloop.routing.services import (
    AssignmentInvalid,
    AssignmentUnchanged,
    ReassignNotAllowed,
    lead_assign,
    lead_queue_set,
)
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory
from tests.routing.factories import rep, sales_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def dach():
    return sales_team("Sales DACH", "ana", "ben")


def manager(team, username="meg"):
    return UserFactory(username=username, role=Role.SALES_MANAGER, team=team)


def test_a_sales_manager_reassigns_a_lead_of_their_team_and_it_is_recorded(dach):
    meg = manager(dach)
    ana, ben = dach.members.get(username="ana"), dach.members.get(username="ben")
    lead = LeadFactory(owner=ana)

    assignment = lead_assign(
        lead_id=lead.pk, actor=meg, assignee=ben, why="Ana is on a big deal", agreement_version=3
    )

    lead.refresh_from_db()
    assert (lead.owner, lead.queue) == (ben, None)
    assert (assignment.kind, assignment.actor, assignment.why) == (
        AssignmentKind.MANUAL,
        meg,
        "Ana is on a big deal",
    )
    assert (assignment.previous_assignee, assignment.assignee, assignment.agreement_version) == (
        ana,
        ben,
        3,
    )
    assert assignment.stage_change is None


def test_a_sales_manager_takes_a_lead_from_their_teams_queue(dach):
    meg = manager(dach)
    ana = dach.members.get(username="ana")
    lead = LeadFactory(owner=None, queue=dach)

    lead_assign(lead_id=lead.pk, actor=meg, assignee=ana, why="Fits Ana", agreement_version=None)

    lead.refresh_from_db()
    assert (lead.owner, lead.queue) == (ana, None)


def test_a_sales_manager_may_not_reassign_another_teams_lead(dach):
    meg = manager(dach)
    nordics = sales_team("Sales Nordics", "ola")
    lead = LeadFactory(owner=nordics.members.get())

    with pytest.raises(
        ReassignNotAllowed,
        match=rf"^Lead {lead.pk} is owned by Ola: a sales manager reassigns only the leads of "
        r"their own team \(Sales DACH\)\.$",
    ):
        lead_assign(
            lead_id=lead.pk,
            actor=meg,
            assignee=dach.members.get(username="ana"),
            why="Mine now",
            agreement_version=None,
        )

    assert not Assignment.objects.exists()


def test_a_sales_manager_may_not_hand_a_lead_to_another_team(dach):
    meg = manager(dach)
    ola = sales_team("Sales Nordics", "ola").members.get()
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    with pytest.raises(
        ReassignNotAllowed, match=r"^Ola is not on your team \(Sales DACH\)"
    ) as error:
        lead_assign(lead_id=lead.pk, actor=meg, assignee=ola, why="x", agreement_version=None)

    assert error.value.loc == ("assignee",)


@pytest.mark.parametrize(
    ("role", "label"), [(Role.SALES_REP, "Sales rep"), (Role.MARKETING_OPS, "Marketing ops")]
)
def test_other_roles_may_not_reassign_and_the_error_names_their_role(dach, role, label):
    actor = UserFactory(role=role, team=dach)
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    with pytest.raises(
        ReassignNotAllowed,
        match=rf"^Your role \({label}\) may not reassign leads: sales managers, revenue leaders "
        r"and admins may\.$",
    ):
        lead_assign(
            lead_id=lead.pk,
            actor=actor,
            assignee=dach.members.get(username="ben"),
            why="Because",
            agreement_version=None,
        )


@pytest.mark.parametrize("role", [Role.REVENUE_LEADER, Role.ADMIN])
def test_revenue_leaders_and_admins_reassign_any_lead_anywhere(dach, role):
    actor = UserFactory(role=role)
    ola = sales_team("Sales Nordics", "ola").members.get()
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    assignment = lead_assign(
        lead_id=lead.pk, actor=actor, assignee=ola, why="Moves north", agreement_version=None
    )

    assert assignment.assignee == ola


def test_reassigning_to_a_queue_clears_the_owner(dach):
    meg = manager(dach)
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    assignment = lead_assign(
        lead_id=lead.pk, actor=meg, queue=dach, why="Ana leaves", agreement_version=None
    )

    lead.refresh_from_db()
    assert (lead.owner, lead.queue) == (None, dach)
    assert (assignment.assignee, assignment.queue) == (None, dach)


def test_a_reassignment_needs_a_why(dach):
    meg = manager(dach)
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    with pytest.raises(AssignmentInvalid, match=r"^Say why the lead is reassigned\.$") as error:
        lead_assign(
            lead_id=lead.pk,
            actor=meg,
            assignee=dach.members.get(username="ben"),
            why="  ",
            agreement_version=None,
        )

    assert error.value.loc == ("why",)


def test_a_reassignment_needs_exactly_one_target(dach):
    meg = manager(dach)
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    with pytest.raises(AssignmentInvalid, match="either a person or a queue"):
        lead_assign(lead_id=lead.pk, actor=meg, why="x", agreement_version=None)
    with pytest.raises(AssignmentInvalid, match="either a person or a queue"):
        lead_assign(
            lead_id=lead.pk,
            actor=meg,
            assignee=dach.members.get(username="ben"),
            queue=dach,
            why="x",
            agreement_version=None,
        )


def test_a_lead_cannot_go_to_someone_who_does_not_own_leads(dach):
    admin = UserFactory(role=Role.ADMIN)
    marketer = UserFactory(
        username="mara", first_name="Mara", last_name="", role=Role.MARKETING_OPS
    )
    lead = LeadFactory(owner=dach.members.get(username="ana"))

    with pytest.raises(AssignmentInvalid, match=r"^Mara \(mara\) cannot own leads"):
        lead_assign(
            lead_id=lead.pk, actor=admin, assignee=marketer, why="x", agreement_version=None
        )


def test_reassigning_to_the_current_owner_is_refused(dach):
    meg = manager(dach)
    ana = dach.members.get(username="ana")
    lead = LeadFactory(owner=ana)

    with pytest.raises(AssignmentUnchanged, match=rf"^Lead {lead.pk} is already Ana's\.$"):
        lead_assign(lead_id=lead.pk, actor=meg, assignee=ana, why="x", agreement_version=None)


def test_a_lead_returned_to_marketing_is_recorded_with_the_kind_and_actor():
    ana = rep("ana")
    marketing = TeamFactory(name="Marketing", kind=TeamKind.MARKETING)
    lead = LeadFactory(owner=ana)

    assignment = lead_queue_set(
        lead_id=lead.pk,
        queue=marketing,
        kind=AssignmentKind.RETURNED,
        why="Rejected: Not now",
        actor=ana,
        agreement_version=2,
    )

    lead.refresh_from_db()
    assert (lead.owner, lead.queue) == (None, marketing)
    assert (assignment.kind, assignment.previous_assignee, assignment.actor, assignment.why) == (
        AssignmentKind.RETURNED,
        ana,
        ana,
        "Rejected: Not now",
    )

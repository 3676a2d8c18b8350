"""Reads of routing: a lead's assignment history, loads against caps, absences, choices."""

from __future__ import annotations

import datetime as dt

import pytest

from leadloop.accounts.models import Role, Team, TeamKind
from leadloop.routing.models import AssignmentKind
from leadloop.routing.selectors import (
    assignment_history,
    fallback_queue_size,
    out_of_office_now,
    reassign_choices,
    rep_loads,
    rule_stats,
)
from leadloop.routing.services import lead_assign, lead_route
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory
from tests.routing.factories import agreement, away, qualify, rep, sales_team

pytestmark = pytest.mark.django_db

UTC = dt.UTC
NOW = dt.datetime(2026, 3, 11, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def _everyone(*names: str, **routing):
    return agreement(
        rules=[
            {"name": "Everyone", "kind": "round_robin", "reps": [{"username": n} for n in names]}
        ],
        **routing,
    )


def _route(lead, terms):
    change = qualify(lead)
    return lead_route(lead_id=lead.pk, agreement=terms, stage_change_id=change.pk)


def test_the_assignment_history_shows_each_owner_with_rule_why_actor_and_skips():
    team = sales_team("Sales DACH", "ana", "ben")
    meg = UserFactory(
        username="meg", first_name="Meg", last_name="M", role=Role.SALES_MANAGER, team=team
    )
    away(
        team.members.get(username="ana"),
        starts_at=NOW - dt.timedelta(days=1),
        ends_at=NOW + dt.timedelta(days=2),
    )
    terms = _everyone("ana", "ben")
    lead = LeadFactory()
    _route(lead, terms)
    lead_assign(
        lead_id=lead.pk,
        actor=meg,
        assignee=team.members.get(username="ana"),
        why="Ana knows them",
        agreement_version=terms.number,
    )

    newest, first = assignment_history(lead_id=lead.pk)

    assert (first.kind, first.assignee_name, first.rule, first.actor_name) == (
        AssignmentKind.ROUTED,
        "Ben",
        "Everyone",
        None,
    )
    assert first.why == "Everyone: round robin, Ben's turn"
    assert [s["text"] for s in first.explanation] == ["Ana: out of office until 2026-03-13 11:00"]
    assert (newest.kind_label, newest.previous_name, newest.owner_name, newest.actor_name) == (
        "Reassigned by hand",
        "Ben",
        "Ana",
        "Meg M",
    )
    assert newest.agreement_version == terms.number


def test_rep_loads_count_today_and_this_week_against_the_caps():
    team = sales_team("Sales DACH", "ana", "ben")
    UserFactory(role=Role.SALES_MANAGER, team=team)  # managers are not routed to
    terms = _everyone("ana", "ben", cap_per_day=5, cap_per_week=20)
    for _ in range(3):
        _route(LeadFactory(), terms)
    away(team.members.get(username="ben"), starts_at=NOW, ends_at=NOW + dt.timedelta(hours=3))

    rows = rep_loads(team=team, at=NOW + dt.timedelta(hours=1), routing=terms.body.routing)

    assert [(r.username, r.today, r.week, r.cap_per_day, r.cap_per_week) for r in rows] == [
        ("ana", 2, 2, 5, 20),
        ("ben", 1, 1, 5, 20),
    ]
    assert [r.away_until for r in rows] == [None, NOW + dt.timedelta(hours=3)]
    tomorrow = rep_loads(team=team, at=NOW + dt.timedelta(days=1), routing=terms.body.routing)
    assert [(r.today, r.week) for r in tomorrow] == [(0, 2), (0, 1)]


def test_out_of_office_now_lists_only_absences_going_on():
    ana, ben, cem = rep("ana"), rep("ben"), rep("cem")
    away(ana, starts_at=NOW - dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=1))
    away(ben, starts_at=NOW + dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=2))
    away(cem, starts_at=NOW - dt.timedelta(days=2), ends_at=NOW)

    assert [o.user for o in out_of_office_now(at=NOW)] == [ana]


def test_reassign_choices_of_a_manager_are_their_teams_people_and_queue():
    team = sales_team("Sales DACH", "ana", "ben")
    meg = UserFactory(username="meg", role=Role.SALES_MANAGER, team=team)
    sales_team("Sales Nordics", "ola")
    lead = LeadFactory(owner=team.members.get(username="ana"))

    choices = reassign_choices(actor=meg, lead=lead)

    assert choices.allowed
    assert sorted(u.username for u in choices.people) == ["ben", "meg"]
    assert [t.name for t in choices.queues] == ["Sales DACH"]


def test_reassign_choices_of_an_admin_are_everyone_and_every_queue_but_the_current():
    team = sales_team("Sales DACH", "ana")
    sales_team("Sales Nordics", "ola")
    TeamFactory(name="Marketing", kind=TeamKind.MARKETING)
    lead = LeadFactory(owner=None, queue=team)

    choices = reassign_choices(actor=UserFactory(role=Role.ADMIN), lead=lead)

    assert sorted(u.username for u in choices.people) == ["ana", "ola"]
    assert [t.name for t in choices.queues] == ["Marketing", "Sales Nordics"]


def test_reassign_choices_of_a_rep_carry_the_refusal():
    ana = rep("ana")

    choices = reassign_choices(actor=ana, lead=LeadFactory(owner=ana))

    assert not choices.allowed
    assert choices.refusal == (
        "Your role (Sales rep) may not reassign leads: sales managers, revenue leaders and "
        "admins may."
    )


def test_rule_stats_count_the_leads_each_rule_routed_and_the_fallback_queue():
    rep("ana")
    terms = agreement(
        rules=[
            {"name": "Named accounts", "kind": "named_account"},
            {
                "name": "DACH",
                "kind": "territory",
                "regions": ["DACH"],
                "reps": [{"username": "ana"}],
            },
        ],
        cap_per_day=2,
    )
    for _ in range(3):
        _route(LeadFactory(country="DE"), terms)

    rows = rule_stats(agreement=terms, since=NOW - dt.timedelta(days=7))
    queue = fallback_queue_size(agreement=terms, since=NOW - dt.timedelta(days=7))

    assert [(r.name, r.kind, r.routed) for r in rows] == [
        ("Named accounts", "named account", 0),
        ("DACH", "territory", 2),
    ]
    assert rows[1].summary == "regions DACH -> ana"
    assert (queue.name, queue.leads, queue.fallbacks_since) == ("Sales", 1, 1)
    assert Team.objects.get(name="Sales").kind == TeamKind.SALES

"""lead_route: each rule kind, the weighted round robin, caps, absences, named accounts, the
fallback queue, and one routing per qualification."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import transaction

from leadloop.accounts.models import Role, Team, TeamKind
from leadloop.agreements.selectors import AgreementInForce
from leadloop.common.errors import NotFound
from leadloop.leads.models import Lead
from leadloop.routing.models import Assignment, AssignmentKind, LoadPeriod, RepLoad
from leadloop.routing.services import AssignmentInvalid, lead_route
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import CompanyFactory, LeadFactory
from tests.routing.factories import agreement, away, qualify, rep, sales_team

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# Wednesday 11 March 2026, 11:00 in Berlin.
NOW = dt.datetime(2026, 3, 11, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


_INLINE = {"on": False}


@pytest.fixture(autouse=True, params=["after commit", "in the qualification"])
def routing_mode(request):
    """Each routing test runs both ways a qualification is routed: in its own transaction
    after the qualification's commit (the task), and inside the qualification's transaction
    with the lead as the transition read it (``loop.lifecycle.lead_qualify``)."""
    _INLINE["on"] = request.param == "in the qualification"
    yield request.param
    _INLINE["on"] = False


def route(lead: Lead, terms, *, at: dt.datetime | None = None) -> Assignment:
    if not _INLINE["on"]:
        change = qualify(lead, at=at)
        return lead_route(lead_id=lead.pk, agreement=terms, stage_change_id=change.pk, at=at)
    with transaction.atomic():
        change = qualify(lead, at=at)
        return lead_route(
            lead_id=lead.pk,
            agreement=terms,
            stage_change_id=change.pk,
            at=at,
            savepoint=False,
            attempts=1,
            lead=change.lead,
        )


def texts(assignment: Assignment) -> list[str]:
    return [line["text"] for line in assignment.explanation]


# --- Rule kinds ---------------------------------------------------------------------------------


def test_a_territory_rule_takes_a_lead_whose_country_is_in_its_region():
    ana = rep("ana")
    terms = agreement(
        rules=[
            {
                "name": "Territory DACH",
                "kind": "territory",
                "regions": ["DACH"],
                "reps": [{"username": "ana"}],
            }
        ]
    )
    lead = LeadFactory(country="AT", company=CompanyFactory(country=""))

    assignment = route(lead, terms)

    lead.refresh_from_db()
    assert (lead.owner, lead.queue) == (ana, None)
    assert (assignment.kind, assignment.assignee, assignment.rule) == (
        AssignmentKind.ROUTED,
        ana,
        "Territory DACH",
    )
    assert assignment.why == "Territory DACH (country AT in DACH): round robin, Ana's turn"


def test_a_territory_rule_looks_at_the_companys_country_when_the_lead_has_none():
    ana = rep("ana")
    terms = agreement(
        rules=[
            {
                "name": "France",
                "kind": "territory",
                "countries": ["FR"],
                "reps": [{"username": "ana"}],
            }
        ]
    )
    lead = LeadFactory(country="", company=CompanyFactory(country="FR"))

    assert route(lead, terms).assignee == ana


def test_a_lead_outside_every_territory_goes_on_to_the_next_rule_with_the_reason():
    rep("ana")
    ben = rep("ben")
    terms = agreement(
        rules=[
            {
                "name": "Territory DACH",
                "kind": "territory",
                "regions": ["DACH"],
                "reps": [{"username": "ana"}],
            },
            {"name": "Everyone else", "kind": "round_robin", "reps": [{"username": "ben"}]},
        ]
    )
    lead = LeadFactory(country="FR", company=CompanyFactory(country="FR"))

    assignment = route(lead, terms)

    assert assignment.assignee == ben
    assert texts(assignment) == ["rule Territory DACH: lead's country is FR"]


def test_a_sector_rule_matches_the_companys_sector_in_any_case():
    ana = rep("ana")
    rep("ben")
    terms = agreement(
        rules=[
            {
                "name": "Sector SaaS",
                "kind": "sector",
                "sectors": ["saas"],
                "reps": [{"username": "ana"}],
            },
            {"name": "Everyone", "kind": "round_robin", "reps": [{"username": "ben"}]},
        ]
    )
    saas = LeadFactory(company=CompanyFactory(sector="SaaS"))
    retail = LeadFactory(company=CompanyFactory(sector="Retail"))

    first, second = route(saas, terms), route(retail, terms)

    assert first.assignee == ana
    assert first.why == "Sector SaaS (sector SaaS): round robin, Ana's turn"
    assert second.assignee.username == "ben"
    assert texts(second) == ["rule Sector SaaS: lead's sector is Retail"]


def test_a_company_size_rule_takes_companies_between_its_bounds():
    rep("ana")
    rep("ben")
    terms = agreement(
        rules=[
            {
                "name": "Mid-market",
                "kind": "company_size",
                "size_min": 200,
                "size_max": 999,
                "reps": [{"username": "ana"}],
            },
            {"name": "Everyone", "kind": "round_robin", "reps": [{"username": "ben"}]},
        ]
    )
    inside = [LeadFactory(company=CompanyFactory(employee_count=n)) for n in (200, 999)]
    outside = LeadFactory(company=CompanyFactory(employee_count=5000))
    unknown = LeadFactory(company=CompanyFactory(employee_count=None))

    owners = [route(lead, terms).assignee.username for lead in (*inside, outside, unknown)]

    assert owners == ["ana", "ana", "ben", "ben"]
    assert texts(Assignment.objects.get(lead=outside)) == [
        "rule Mid-market: company has 5,000 employees (200-999)"
    ]
    assert texts(Assignment.objects.get(lead=unknown)) == ["rule Mid-market: company size unknown"]


def test_a_round_robin_rule_takes_turns_in_the_order_the_reps_are_listed():
    for name in ("ana", "ben", "cem"):
        rep(name)
    terms = agreement(
        rules=[
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": n} for n in ("cem", "ana", "ben")],
            }
        ]
    )

    owners = [route(LeadFactory(), terms).assignee.username for _ in range(5)]

    assert owners == ["cem", "ana", "ben", "cem", "ana"]


def test_weighted_round_robin_gives_each_rep_as_many_slots_as_their_weight():
    rep("ana")
    rep("ben")
    terms = agreement(
        rules=[
            {
                "name": "Weighted",
                "kind": "round_robin",
                "reps": [{"username": "ana", "weight": 2}, {"username": "ben", "weight": 1}],
            }
        ]
    )

    assignments = [route(LeadFactory(), terms) for _ in range(30)]

    assert Counter(a.assignee.username for a in assignments) == {"ana": 20, "ben": 10}
    # Interleaved, not in bursts: ana, ben, ana, ana, ben, ana...
    assert [a.assignee.username for a in assignments[:6]] == ["ana", "ben", "ana"] * 2
    assert assignments[0].why == "Weighted: weighted round robin, Ana's turn"


def test_a_team_rule_picks_among_the_teams_active_sales_reps():
    team = sales_team("Sales DACH", "ana", "ben")
    rep("gone", team=team, is_active=False)
    UserFactory(username="meg", role=Role.SALES_MANAGER, team=team)
    rep("other", team=TeamFactory(name="Sales Nordics"))
    terms = agreement(rules=[{"name": "DACH team", "kind": "round_robin", "team": "Sales DACH"}])

    owners = {route(LeadFactory(), terms).assignee.username for _ in range(6)}

    assert owners == {"ana", "ben"}


# --- Caps, absences, availability ---------------------------------------------------------------


def test_a_rep_at_the_daily_cap_is_skipped_with_the_count():
    rep("ana")
    rep("ben")
    terms = agreement(
        rules=[
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": "ana"}, {"username": "ben"}],
            }
        ],
        cap_per_day=2,
    )

    owners = [route(LeadFactory(), terms).assignee for _ in range(4)]
    fifth = route(LeadFactory(), terms)

    assert [o.username for o in owners] == ["ana", "ben", "ana", "ben"]
    assert fifth.kind == AssignmentKind.FALLBACK
    assert texts(fifth) == ["Ana: at daily cap 2/2", "Ben: at daily cap 2/2"]
    assert fifth.explanation[0] == {
        "rule": "Everyone",
        "candidate": "ana",
        "skipped": "at daily cap 2/2",
        "text": "Ana: at daily cap 2/2",
    }


def test_the_weekly_cap_counts_the_whole_week_and_starts_again_on_monday(time_machine):
    rep("ana")
    rep("ben")
    terms = agreement(
        rules=[
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": "ana"}, {"username": "ben"}],
            }
        ],
        cap_per_week=3,
    )
    monday = dt.datetime(2026, 3, 9, 9, tzinfo=UTC)
    for day in range(3):  # Monday to Wednesday: ana gets three leads
        route(LeadFactory(), terms, at=monday + dt.timedelta(days=day))
        route(LeadFactory(), terms, at=monday + dt.timedelta(days=day, hours=1))

    on_thursday = route(LeadFactory(), terms, at=monday + dt.timedelta(days=3))
    next_monday = route(LeadFactory(), terms, at=monday + dt.timedelta(days=7))

    assert on_thursday.kind == AssignmentKind.FALLBACK
    assert texts(on_thursday) == ["Ana: at weekly cap 3/3", "Ben: at weekly cap 3/3"]
    assert next_monday.assignee.username == "ana"
    assert (
        RepLoad.objects.get(
            user__username="ana", period=LoadPeriod.WEEK, starts_on=dt.date(2026, 3, 9)
        ).count
        == 3
    )


def test_with_both_caps_a_rep_at_the_weekly_cap_keeps_the_daily_count_unchanged():
    ana = rep("ana")
    terms = agreement(
        rules=[{"name": "Everyone", "kind": "round_robin", "reps": [{"username": "ana"}]}],
        cap_per_day=5,
        cap_per_week=2,
    )
    for _ in range(2):
        route(LeadFactory(), terms)

    third = route(LeadFactory(), terms)

    assert texts(third) == ["Ana: at weekly cap 2/2"]
    counts = dict(RepLoad.objects.filter(user=ana).values_list("period", "count"))
    assert counts == {LoadPeriod.DAY: 2, LoadPeriod.WEEK: 2}


def test_a_reps_day_is_counted_in_their_own_time_zone():
    team = sales_team("Sales West", time_zone="America/Los_Angeles")
    ana = rep("ana", team=team)
    terms = agreement(
        rules=[{"name": "Everyone", "kind": "round_robin", "reps": [{"username": "ana"}]}]
    )
    # 05:00 UTC on Wednesday is 22:00 on Tuesday in Los Angeles.
    route(LeadFactory(), terms, at=dt.datetime(2026, 3, 11, 5, tzinfo=UTC))

    assert RepLoad.objects.get(user=ana, period=LoadPeriod.DAY).starts_on == dt.date(2026, 3, 10)
    assert RepLoad.objects.get(user=ana, period=LoadPeriod.WEEK).starts_on == dt.date(2026, 3, 9)


def test_a_rep_out_of_office_is_skipped_until_they_are_back():
    rep("ana")
    ben = rep("ben")
    away(
        ben, starts_at=NOW - dt.timedelta(days=1), ends_at=dt.datetime(2026, 3, 13, 23, tzinfo=UTC)
    )
    terms = agreement(
        rules=[
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": "ben"}, {"username": "ana"}],
            }
        ]
    )

    first = route(LeadFactory(), terms)
    after_return = route(LeadFactory(), terms, at=dt.datetime(2026, 3, 16, 9, tzinfo=UTC))

    assert first.assignee.username == "ana"
    # Back at midnight on 14 March in Berlin.
    assert texts(first) == ["Ben: out of office until 2026-03-14"]
    assert after_return.assignee == ben


def test_absences_are_ignored_when_the_agreement_does_not_skip_them():
    ben = rep("ben")
    away(ben, starts_at=NOW - dt.timedelta(days=1), ends_at=NOW + dt.timedelta(days=1))
    terms = agreement(
        rules=[{"name": "Everyone", "kind": "round_robin", "reps": [{"username": "ben"}]}],
        skip_out_of_office=False,
    )

    assert route(LeadFactory(), terms).assignee == ben


def test_an_inactive_or_unknown_rep_in_a_rule_is_skipped_with_the_reason():
    rep("gone", is_active=False)
    cem = rep("cem")
    terms = agreement(
        rules=[
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": "gone"}, {"username": "zed"}, {"username": "cem"}],
            }
        ]
    )

    assignment = route(LeadFactory(), terms)

    assert assignment.assignee == cem
    assert texts(assignment) == ["rule Everyone: no user 'zed'", "Gone: inactive"]


# --- Named accounts -----------------------------------------------------------------------------


def _named_then_everyone():
    return agreement(
        rules=[
            {"name": "Named accounts", "kind": "named_account"},
            {"name": "Everyone", "kind": "round_robin", "reps": [{"username": "ben"}]},
        ]
    )


def test_a_lead_of_a_company_with_an_owner_goes_to_that_owner():
    ana = rep("ana")
    rep("ben")
    acme = CompanyFactory(name="Acme")
    LeadFactory(company=acme, owner=ana)
    terms = _named_then_everyone()
    lead = LeadFactory(company=acme)

    assignment = route(lead, terms)

    assert (assignment.assignee, assignment.rule) == (ana, "Named accounts")
    assert assignment.why == "Named accounts: Acme is Ana's account"
    assert assignment.explanation == []


def test_a_named_account_does_not_take_the_next_rules_turn():
    ana = rep("ana")
    rep("ben")
    rep("cleo")
    acme = CompanyFactory(name="Acme")
    LeadFactory(company=acme, owner=ana)
    terms = agreement(
        rules=[
            {"name": "Named accounts", "kind": "named_account"},
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": "ben"}, {"username": "cleo"}],
            },
        ]
    )

    first = route(LeadFactory(company=CompanyFactory()), terms)
    account = route(LeadFactory(company=acme), terms)
    second = route(LeadFactory(company=CompanyFactory()), terms)

    assert [a.assignee.username for a in (first, account, second)] == ["ben", "ana", "cleo"]


def test_a_company_without_an_owner_goes_on_to_the_next_rule():
    rep("ben")
    terms = _named_then_everyone()

    assignment = route(LeadFactory(company=CompanyFactory()), terms)

    assert assignment.assignee.username == "ben"
    assert texts(assignment) == ["rule Named accounts: company has no owner"]


def test_an_account_owner_who_is_away_is_skipped_with_the_reason():
    ana = rep("ana")
    rep("ben")
    acme = CompanyFactory(name="Acme")
    LeadFactory(company=acme, owner=ana)
    away(
        ana, starts_at=NOW - dt.timedelta(hours=1), ends_at=dt.datetime(2026, 3, 20, 8, tzinfo=UTC)
    )
    terms = _named_then_everyone()

    assignment = route(LeadFactory(company=acme), terms)

    assert assignment.assignee.username == "ben"
    assert texts(assignment) == ["Ana: out of office until 2026-03-20 09:00 (owns Acme)"]


def test_a_lead_owned_by_a_queue_does_not_make_its_company_a_named_account():
    rep("ben")
    acme = CompanyFactory()
    LeadFactory(
        company=acme, owner=None, queue=TeamFactory(name="Marketing", kind=TeamKind.MARKETING)
    )
    terms = _named_then_everyone()

    assert route(LeadFactory(company=acme), terms).assignee.username == "ben"


# --- Fallback, idempotency, the record ----------------------------------------------------------


def test_with_no_available_rep_the_lead_goes_to_the_fallback_queue():
    terms = agreement(
        rules=[{"name": "Nobody", "kind": "round_robin", "team": "Ghosts"}],
        fallback_queue="Sales inbox",
    )
    lead = LeadFactory(owner=rep("ana"))

    assignment = route(lead, terms)

    lead.refresh_from_db()
    queue = Team.objects.get(name="Sales inbox")
    assert (assignment.kind, assignment.assignee, assignment.queue) == (
        AssignmentKind.FALLBACK,
        None,
        queue,
    )
    assert (lead.owner, lead.queue) == (None, queue)
    assert queue.kind == TeamKind.SALES
    assert assignment.why == "No rule found an available rep: fallback queue Sales inbox"
    assert texts(assignment) == ["rule Nobody: team Ghosts has no active sales reps"]


def test_routing_the_same_qualification_twice_returns_the_first_assignment_and_takes_no_slot():
    ana = rep("ana")
    rep("ben")
    terms = agreement(
        rules=[
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": "ana"}, {"username": "ben"}],
            }
        ],
        cap_per_day=5,
    )
    lead = LeadFactory()
    change = qualify(lead)

    first = lead_route(lead_id=lead.pk, agreement=terms, stage_change_id=change.pk)
    again = lead_route(lead_id=lead.pk, agreement=terms, stage_change_id=change.pk)

    assert again.pk == first.pk
    assert Assignment.objects.filter(lead=lead).count() == 1
    assert RepLoad.objects.get(user=ana, period=LoadPeriod.DAY).count == 1
    assert not RepLoad.objects.filter(user__username="ben").exists()


def test_an_assignment_records_the_previous_owner_the_agreement_version_and_the_qualification():
    ana = rep("ana")
    marketing = TeamFactory(name="Marketing", kind=TeamKind.MARKETING)
    terms = agreement(
        rules=[{"name": "Everyone", "kind": "round_robin", "reps": [{"username": "ana"}]}]
    )
    lead = LeadFactory(queue=marketing)
    change = qualify(lead)

    assignment = lead_route(lead_id=lead.pk, agreement=terms, stage_change_id=change.pk)

    assert (assignment.previous_assignee, assignment.previous_queue) == (None, marketing)
    assert (assignment.agreement_version, assignment.stage_change, assignment.cycle) == (
        terms.number,
        change,
        1,
    )
    assert (assignment.actor, assignment.at) == (None, NOW)
    assert assignment.assignee == ana


def test_a_stage_change_of_another_lead_is_refused():
    rep("ana")
    terms = agreement(
        rules=[{"name": "Everyone", "kind": "round_robin", "reps": [{"username": "ana"}]}]
    )
    other = qualify(LeadFactory())
    lead = LeadFactory()

    with pytest.raises(
        AssignmentInvalid,
        match=rf"^Stage change {other.pk} belongs to lead {other.lead_id}, not to lead {lead.pk}\.$",
    ):
        lead_route(lead_id=lead.pk, agreement=terms, stage_change_id=other.pk)

    assert not Assignment.objects.exists()


def test_an_unknown_lead_is_not_found():
    terms = agreement()

    with pytest.raises(NotFound, match=r"^No lead with id 999999\.$"):
        lead_route(lead_id=999999, agreement=terms, stage_change_id=None)


def test_an_unknown_region_is_named_in_the_explanation():
    rep("ana")
    terms = agreement(
        rules=[
            {
                "name": "Moon",
                "kind": "territory",
                "regions": ["DACH"],
                "reps": [{"username": "ana"}],
            },
            {"name": "Everyone", "kind": "round_robin", "reps": [{"username": "ana"}]},
        ]
    )
    # The schema refuses an unknown region; routing still explains one it is handed (a body
    # from before that check): model_copy does not validate.
    moon, everyone = terms.body.routing.rules
    rules = [moon.model_copy(update={"regions": ["MOON"]}), everyone]
    routing = terms.body.routing.model_copy(update={"rules": rules})
    terms = AgreementInForce(
        version=terms.version, body=terms.body.model_copy(update={"routing": routing})
    )

    assignment = route(LeadFactory(country="DE"), terms)

    assert texts(assignment) == [
        "rule Moon: unknown region 'MOON'",
        "rule Moon: lead's country is DE",
    ]

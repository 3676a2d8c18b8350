"""The moves a person may make now (loop.selectors.moves_for), per role, with their reasons."""

from __future__ import annotations

import pytest

from leadloop.accounts.models import Role, TeamKind
from leadloop.agreements.defaults import DEFAULT_BODY
from leadloop.agreements.models import AgreementStatus, AgreementVersion
from leadloop.leads.models import Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import lead_transition
from leadloop.loop.selectors import (
    lead_find,
    lead_timeline_explained,
    moves_for,
    moves_refused_because,
    stage_actions,
)
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

REJECT_CODES = [
    "bad_fit",
    "wrong_contact",
    "no_budget",
    "not_now",
    "competitor",
    "duplicate",
    "spam",
    "student",
]
LOST_CODES = ["price", "timing", "competitor", "no_decision", "feature_gap"]


@pytest.fixture
def team():
    return TeamFactory(name="Sales DACH", kind=TeamKind.SALES)


@pytest.fixture
def rep(team):
    return UserFactory(role=Role.SALES_REP, team=team)


def _moves(user, lead):
    return [(o.action, o.to) for o in moves_for(user=user, lead=lead)]


def test_a_rep_may_accept_or_reject_an_mql_they_own(rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    assert _moves(rep, lead) == [
        ("accept", Stage.SAL),
        ("reject", Stage.DISQUALIFIED),
        ("reject", Stage.NURTURE),
    ]


def test_the_reasons_of_a_rejection_are_the_agreements_reject_reasons_by_target(rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    options = {o.to: o for o in moves_for(user=rep, lead=lead) if o.action == "reject"}

    assert [r.code for r in options[Stage.NURTURE].reasons] == [
        "wrong_contact",
        "no_budget",
        "not_now",
        "competitor",
    ]
    assert [r.code for r in options[Stage.DISQUALIFIED].reasons] == [
        "bad_fit",
        "duplicate",
        "spam",
        "student",
    ]
    assert all(o.reason_required and o.reason_kind == "reject" for o in options.values())
    assert options[Stage.DISQUALIFIED].asks_duplicate
    assert not options[Stage.NURTURE].asks_duplicate


def test_a_reason_says_what_happens_next(rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    (reject,) = [a for a in stage_actions(moves_for(user=rep, lead=lead)) if a.action == "reject"]

    texts = {r.code: r.text for r in reject.reasons}
    assert texts["not_now"] == "Not now - back to nurture, may re-qualify after 90 days"
    assert texts["wrong_contact"] == "Wrong contact - back to nurture (find-the-buyer track)"
    assert texts["bad_fit"] == "Bad fit - disqualified"
    assert texts["duplicate"] == "Duplicate - merged into the lead it duplicates"


def test_the_panel_shows_one_reject_button_with_every_reject_reason_in_the_agreements_order(rep):
    lead = LeadFactory(stage=Stage.SAL, owner=rep)

    actions = stage_actions(moves_for(user=rep, lead=lead))

    assert [(a.action, a.label) for a in actions] == [
        ("qualify", "Qualify as SQL"),
        ("reject", "Reject..."),
    ]
    assert [r.code for r in actions[1].reasons] == REJECT_CODES


def test_a_rep_may_convert_or_lose_an_sql_with_the_lost_reasons(rep):
    lead = LeadFactory(stage=Stage.SQL, owner=rep)

    options = moves_for(user=rep, lead=lead)

    # No lost reason of the default agreement disqualifies: that move is not offered.
    assert [(o.action, o.to) for o in options] == [
        ("convert", Stage.OPPORTUNITY),
        ("lose", Stage.NURTURE),
    ]
    assert [r.code for r in options[1].reasons] == LOST_CODES
    assert options[1].reason_kind == "lost"


def test_a_rep_may_win_or_lose_an_opportunity(rep):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=rep)

    assert _moves(rep, lead) == [("win", Stage.CUSTOMER), ("lose", Stage.NURTURE)]


def test_a_rep_has_no_moves_on_another_reps_lead_and_is_told_why(rep, team):
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=team))

    assert moves_for(user=rep, lead=lead) == []
    assert moves_refused_because(user=rep, lead=lead) == (
        "A sales rep can only move the leads they own."
    )


def test_marketing_ops_may_promote_nurture_or_disqualify_a_lead():
    ops = UserFactory(role=Role.MARKETING_OPS)
    lead = LeadFactory(stage=Stage.LEAD)

    options = moves_for(user=ops, lead=lead)

    assert [(o.action, o.label) for o in options] == [
        ("promote", "Promote to MQL"),
        ("nurture", "Move to nurture"),
        ("disqualify", "Disqualify..."),
    ]
    assert not options[0].reason_required
    assert options[0].reasons == ()
    assert [r.code for r in options[2].reasons] == ["bad_fit", "spam", "student"]


def test_marketing_ops_cannot_accept_an_mql_sales_owns(rep):
    ops = UserFactory(role=Role.MARKETING_OPS)
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    assert moves_for(user=ops, lead=lead) == []
    assert moves_refused_because(user=ops, lead=lead) == (
        "Marketing ops cannot move a lead at MQL: sales owns it."
    )


def test_marketing_ops_may_reopen_a_disqualified_lead():
    ops = UserFactory(role=Role.MARKETING_OPS)
    lead = LeadFactory(stage=Stage.DISQUALIFIED)

    assert _moves(ops, lead) == [("reopen", Stage.LEAD), ("nurture", Stage.NURTURE)]


def test_a_sales_manager_may_accept_for_their_team_but_not_for_another(rep, team):
    manager = UserFactory(role=Role.SALES_MANAGER, team=team)
    other_team = TeamFactory(name="Sales Nordics", kind=TeamKind.SALES)

    ours = LeadFactory(stage=Stage.MQL, owner=rep)
    theirs = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=other_team))

    assert ("accept", Stage.SAL) in _moves(manager, ours)
    assert _moves(manager, theirs) == []


def test_the_revenue_leader_may_make_every_allowed_move():
    leader = UserFactory(role=Role.REVENUE_LEADER)
    lead = LeadFactory(stage=Stage.CUSTOMER)

    assert _moves(leader, lead) == [("nurture", Stage.NURTURE)]


def test_the_reasons_come_from_the_agreement_in_force():
    body = {
        **DEFAULT_BODY,
        "reasons": [
            {
                "code": "gdpr",
                "label": "Asked to be forgotten",
                "kind": "reject",
                "action": "disqualify",
            }
        ],
    }
    AgreementVersion.objects.create(
        number=7, title="Lean", body=body, status=AgreementStatus.IN_FORCE
    )
    ops = UserFactory(role=Role.MARKETING_OPS)
    lead = LeadFactory(stage=Stage.LEAD)

    (disqualify,) = [o for o in moves_for(user=ops, lead=lead) if o.action == "disqualify"]

    assert [(r.code, r.text) for r in disqualify.reasons] == [
        ("gdpr", "Asked to be forgotten - disqualified")
    ]


def test_the_timeline_spells_a_reason_as_the_version_that_applied_it(rep):
    AgreementVersion.objects.create(
        number=1, title="Old", body=DEFAULT_BODY, status=AgreementStatus.SUPERSEDED
    )
    renamed = [
        {**r, "label": "Later, maybe"} if r["code"] == "not_now" else r
        for r in DEFAULT_BODY["reasons"]
    ]
    AgreementVersion.objects.create(
        number=2,
        title="New",
        body={**DEFAULT_BODY, "reasons": renamed},
        status=AgreementStatus.IN_FORCE,
    )
    lead = LeadFactory(stage=Stage.MQL, owner=rep)
    lead_transition(
        lead_id=lead.pk, to=Stage.NURTURE, actor=rep, reason="not_now", agreement_version=1
    )

    (entry,) = lead_timeline_explained(lead_id=lead.pk)

    assert (entry.reason_label, entry.reason_next_step) == (
        "Not now",
        "back to nurture, may re-qualify after 90 days",
    )
    assert StageChange.objects.get().agreement_version == 1


def test_a_lost_reason_is_told_apart_from_the_reject_reason_with_the_same_code(rep):
    lead = LeadFactory(stage=Stage.SQL, owner=rep)
    lead_transition(lead_id=lead.pk, to=Stage.NURTURE, actor=rep, reason="competitor")

    (entry,) = lead_timeline_explained(lead_id=lead.pk)

    assert entry.reason_label == "Chose a competitor"


def test_the_duplicates_lead_is_found_by_id_or_email():
    lead = LeadFactory(email="grace@navy.example")

    assert lead_find(key=str(lead.pk)) == lead
    assert lead_find(key=f"#{lead.pk}") == lead
    assert lead_find(key=" Grace@Navy.example ") == lead
    assert lead_find(key="nobody@navy.example") is None
    assert lead_find(key="grace") is None

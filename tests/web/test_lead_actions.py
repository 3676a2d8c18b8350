"""The lead page's stage panel: the buttons each role may press, the reason forms, the moves."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from leadloop.accounts.models import Role, TeamKind
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.routing.services import lead_assign
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory
from tests.web.helpers import text

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def team():
    return TeamFactory(name="Sales DACH", kind=TeamKind.SALES)


@pytest.fixture
def rep(client, team):
    user = UserFactory(role=Role.SALES_REP, team=team, first_name="Rita", last_name="Rep")
    client.force_login(user)
    return user


def _panel(response) -> str:
    page = text(response)
    start = page.index('id="stage-panel"')
    return page[start : page.index("</section>", start)]


def _buttons(response) -> list[str]:
    return re.findall(r'class="stage-action[^"]*" data-action="([a-z_]+)"', _panel(response))


def _move(client, lead, headers=None, **data):
    return client.post(reverse("web:lead_move", args=[lead.pk]), data, headers=headers or {})


# --- Which buttons ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "buttons"),
    [
        (Stage.MQL, ["accept", "reject"]),
        (Stage.SAL, ["qualify", "reject"]),
        (Stage.SQL, ["convert", "lose"]),
        (Stage.OPPORTUNITY, ["win", "lose"]),
    ],
)
def test_a_rep_sees_the_answers_for_their_own_lead(client, rep, stage, buttons):
    lead = LeadFactory(stage=stage, owner=rep)

    response = client.get(lead.get_absolute_url())

    assert _buttons(response) == buttons


def test_a_rep_sees_no_buttons_on_another_reps_lead_and_why(client, rep, team):
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=team))

    response = client.get(lead.get_absolute_url())

    assert _buttons(response) == []
    assert "A sales rep can only move the leads they own." in _panel(response)


def test_marketing_ops_sees_promote_nurture_and_disqualify_on_a_lead(client):
    client.force_login(UserFactory(role=Role.MARKETING_OPS))
    lead = LeadFactory(stage=Stage.LEAD)

    response = client.get(lead.get_absolute_url())

    assert _buttons(response) == ["promote", "nurture", "disqualify"]
    assert ">Promote to MQL</button>" in _panel(response)


def test_marketing_ops_sees_no_accept_on_an_mql_sales_owns(client, team):
    client.force_login(UserFactory(role=Role.MARKETING_OPS))
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=team))

    response = client.get(lead.get_absolute_url())

    assert _buttons(response) == []
    assert "Marketing ops cannot move a lead at MQL: sales owns it." in _panel(response)


def test_a_sales_manager_sees_accept_on_their_teams_mql(client, team):
    client.force_login(UserFactory(role=Role.SALES_MANAGER, team=team))
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=team))

    response = client.get(lead.get_absolute_url())

    assert _buttons(response) == ["accept", "reject"]


def test_the_reject_form_lists_the_reject_reasons_with_what_happens_next(client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    panel = _panel(client.get(lead.get_absolute_url()))

    codes = re.findall(r'name="reason" value="([a-z_]+)"', panel)
    assert codes == [
        "bad_fit",
        "wrong_contact",
        "no_budget",
        "not_now",
        "competitor",
        "duplicate",
        "spam",
        "student",
    ]
    assert (
        '<span class="strong">Not now</span> '
        '<span class="muted">- back to nurture, may re-qualify after 90 days</span>'
    ) in panel
    assert "The lead it duplicates" in panel


def test_the_lost_form_lists_the_lost_reasons(client, rep):
    lead = LeadFactory(stage=Stage.OPPORTUNITY, owner=rep)

    panel = _panel(client.get(lead.get_absolute_url()))

    assert re.findall(r'name="reason" value="([a-z_]+)"', panel) == [
        "price",
        "timing",
        "competitor",
        "no_decision",
        "feature_gap",
    ]
    assert "Chose a competitor" in panel
    assert "The lead it duplicates" not in panel


# --- Moving -------------------------------------------------------------------------------------


def test_rejecting_with_a_reason_moves_the_lead_and_swaps_facts_and_timeline(client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = _move(
        client, lead, HTMX, action="reject", to="nurture", reason="not_now", note="Call in Q3"
    )

    assert response.status_code == 200
    page = text(response)
    assert (
        "Moved from MQL to Nurture (Not now: back to nurture, may re-qualify after 90 days)."
        in page
    )
    assert 'id="lead-facts" hx-swap-oob="true"' in page
    assert 'data-stage="nurture"' in page
    assert "Marketing queue" in page
    assert 'id="lead-timeline" hx-swap-oob="true"' in page
    assert 'data-reason="not_now">Not now</span>' in page
    assert "Call in Q3" in page
    assert "agreement v1" in page
    change = StageChange.objects.get()
    assert (
        change.to_stage,
        change.reason,
        change.note,
        change.actor,
        change.agreement_version,
    ) == (
        Stage.NURTURE,
        "not_now",
        "Call in Q3",
        rep,
        1,
    )
    assert _buttons(response) == []


def test_a_rejection_refreshes_the_owners_history_with_the_return_to_marketing(client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = _move(client, lead, HTMX, action="reject", reason="not_now")

    page = text(response)
    start = page.index('id="assignments"')
    assert 'hx-swap-oob="true"' in page[start : page.index(">", start)]
    history = page[start : page.index("</section>", start)]
    assert 'data-kind="returned"' in history
    assert "Rejected: Not now" in history


def test_the_lead_page_shows_the_owners_history_and_the_reassign_form_to_a_manager(client, team):
    client.force_login(UserFactory(role=Role.SALES_MANAGER, team=team))
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=team))

    page = text(client.get(lead.get_absolute_url()))

    assert 'id="assignments"' in page
    assert 'id="assign-form"' in page
    assert page.index('id="stage-panel"') < page.index('id="assign-form"')


def test_a_move_tells_the_page_the_lead_moved(client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = _move(client, lead, HTMX, action="reject", reason="spam")

    assert response["HX-Trigger"] == "lead-moved"


def test_after_a_reassignment_the_panel_reloads_with_the_moves_left_to_the_viewer(
    client, rep, team
):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)
    assert _buttons(client.get(lead.get_absolute_url())) == ["accept", "reject"]
    manager = UserFactory(role=Role.SALES_MANAGER, team=team)
    lead_assign(
        lead_id=lead.pk,
        actor=manager,
        assignee=UserFactory(role=Role.SALES_REP, team=team),
        why="Rita is overloaded",
        agreement_version=None,
    )

    response = client.get(reverse("web:lead_stage_panel", args=[lead.pk]), headers=HTMX)

    assert text(response).lstrip().startswith('<section class="card stage-panel" id="stage-panel"')
    assert 'hx-trigger="lead-assigned from:body"' in text(response)
    assert _buttons(response) == []
    assert "A sales rep can only move the leads they own." in _panel(response)


def test_the_lead_page_shows_the_reason_and_agreement_version_after_a_rejection(client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)
    _move(client, lead, HTMX, action="reject", reason="bad_fit")

    response = client.get(lead.get_absolute_url())

    page = text(response)
    assert 'data-reason="bad_fit">Bad fit</span> <span class="muted">- disqualified</span>' in page
    assert '<a href="/agreement/versions/1/" data-agreement="1">agreement v1</a>' in page
    assert 'data-stage="disqualified"' in page


def test_the_swapped_timeline_shows_times_in_the_viewers_zone(client, rep, time_machine):
    time_machine.move_to(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), tick=False)
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = _move(client, lead, HTMX, action="accept", to="sal")

    # The rep's team works in Berlin: 10:00 UTC is 11:00 there.
    assert '<time datetime="2026-03-02T11:00:00+01:00">2 Mar 2026, 11:00</time>' in text(response)


def test_accepting_without_htmx_redirects_to_the_lead_page_with_a_message(client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = _move(client, lead, action="accept", to="sal")

    assert response.status_code == 302
    assert response["Location"] == lead.get_absolute_url()
    page = text(client.get(response["Location"]))
    assert "Moved from MQL to SAL." in page
    lead.refresh_from_db()
    assert lead.stage == Stage.SAL


def test_rejecting_without_a_reason_shows_the_error_beside_the_reasons(client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = _move(client, lead, HTMX, action="reject", reason="", note="keep me")

    assert response.status_code == 200
    panel = _panel(response)
    assert (
        '<p class="field__error" id="reject-reason-error">'
        "Moving a lead from MQL to Nurture needs a reason.</p>"
    ) in panel
    assert '<details class="stage-action stage-action--form" data-action="reject" open>' in panel
    assert ">keep me</textarea>" in panel
    assert StageChange.objects.count() == 0


def test_an_error_without_htmx_is_shown_on_the_whole_page(client, rep):
    lead = LeadFactory(stage=Stage.SQL, owner=rep)

    response = _move(client, lead, action="lose", reason="spam")

    assert response.status_code == 400
    assert "&#x27;spam&#x27; is not a lost reason of agreement v1" in _panel(response)
    assert "<h1>" in text(response)


def test_moving_another_reps_lead_is_refused_above_the_buttons(client, rep, team):
    lead = LeadFactory(stage=Stage.MQL, owner=UserFactory(role=Role.SALES_REP, team=team))

    response = _move(client, lead, HTMX, action="accept", to="sal")

    assert (
        '<p class="callout callout--error stage-panel__error" role="alert">'
        "A sales rep can only move the leads they own.</p>"
    ) in _panel(response)
    assert StageChange.objects.count() == 0


def test_a_move_no_longer_allowed_names_both_stages(client, rep):
    lead = LeadFactory(stage=Stage.SAL, owner=rep)

    response = _move(client, lead, HTMX, action="accept", to="sal")

    assert f"Lead {lead.pk} cannot move from SAL to SAL." in _panel(response)


def test_marketing_ops_promotes_a_lead_to_mql(client):
    ops = UserFactory(role=Role.MARKETING_OPS)
    client.force_login(ops)
    lead = LeadFactory(stage=Stage.LEAD)

    response = _move(client, lead, HTMX, action="promote", to="mql")

    assert "Moved from Lead to MQL." in text(response)
    change = StageChange.objects.get()
    assert (change.to_stage, change.actor, change.agreement_version) == (Stage.MQL, ops, 1)


# --- Merging as a duplicate ---------------------------------------------------------------------


def test_rejecting_as_a_duplicate_merges_into_the_lead_found_by_email(client, rep):
    survivor = LeadFactory(stage=Stage.SAL, owner=rep, email="grace@navy.example")
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = _move(
        client, lead, HTMX, action="reject", reason="duplicate", duplicate_of="Grace@navy.example"
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == survivor.get_absolute_url()
    assert not Lead.objects.filter(pk=lead.pk).exists()
    assert StageChange.objects.get().lead_id == survivor.pk


def test_a_duplicate_that_cannot_be_found_is_an_error_beside_the_field(client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = _move(
        client, lead, HTMX, action="reject", reason="duplicate", duplicate_of="nobody@x.example"
    )

    assert (
        '<p class="field__error" id="reject-duplicate-error">'
        "No lead with the e-mail or id &#x27;nobody@x.example&#x27;.</p>"
    ) in _panel(response)
    assert StageChange.objects.count() == 0


def test_a_duplicate_without_the_lead_it_duplicates_is_an_error_beside_the_field(client, rep):
    lead = LeadFactory(stage=Stage.MQL, owner=rep)

    response = _move(client, lead, HTMX, action="reject", reason="duplicate")

    assert "A lead rejected as a duplicate needs the lead it duplicates." in _panel(response)
    assert 'id="reject-duplicate-error"' in _panel(response)


def test_the_duplicate_field_suggests_leads_by_email_or_id_but_not_the_lead_itself(client, rep):
    lead = LeadFactory(first_name="Grace", last_name="Hopper", email="grace@navy.example")
    other = LeadFactory(first_name="Grace", last_name="Brewster", email="gb@navy.example")

    response = client.get(
        reverse("web:lead_duplicate_options", args=[lead.pk]), {"duplicate_of": "navy"}
    )

    page = text(response)
    assert f'<option value="gb@navy.example">Grace Brewster · #{other.pk}' in page
    assert "grace@navy.example" not in page
    by_id = text(
        client.get(
            reverse("web:lead_duplicate_options", args=[lead.pk]), {"duplicate_of": str(other.pk)}
        )
    )
    assert 'value="gb@navy.example"' in by_id

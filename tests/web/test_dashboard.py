import datetime as dt

import pytest
from django.urls import reverse

from leadloop.accounts.models import Role
from leadloop.leads.models import Stage
from leadloop.lifecycle.services import lead_transition
from leadloop.routing.services import lead_route
from leadloop.scoring.models import ScoreHistory
from tests.accounts.factories import TeamFactory, UserFactory
from tests.leads.factories import LeadFactory
from tests.sla.factories import mql, person, sales_team, sla_agreement
from tests.web.helpers import figure, row, table_rows, text

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# Wednesday 11 March 2026, 11:00 in Berlin: this week began Monday 9 March 00:00 Berlin.
NOW = dt.datetime(2026, 3, 11, 10, 0, tzinfo=UTC)


@pytest.fixture
def now(time_machine):
    time_machine.move_to(NOW, tick=False)
    return NOW


def _mql(lead, at, actor=None):
    return lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=actor, rule="score ≥ 60", at=at)


def test_leads_by_stage_this_month_counts_entries_from_the_stage_log(client, now):
    viewer = UserFactory(role=Role.MARKETING_OPS)
    for _ in range(3):
        _mql(LeadFactory(), at=now - dt.timedelta(days=2))
    accepted = LeadFactory()
    _mql(accepted, at=now - dt.timedelta(days=3))
    lead_transition(lead_id=accepted.pk, to=Stage.SAL, actor=viewer, at=now - dt.timedelta(days=1))
    _mql(LeadFactory(), at=dt.datetime(2026, 2, 27, 12, tzinfo=UTC))  # last month
    client.force_login(viewer)

    response = client.get(reverse("web:dashboard"))

    assert row(response, "stage-entries", "stage", "mql")[:2] == ["MQL", "4"]
    assert row(response, "stage-entries", "stage", "sal")[:2] == ["SAL", "1"]
    assert row(response, "stage-entries", "stage", "customer")[:2] == ["Customer", "0"]


def test_mqls_this_week_are_compared_with_last_week_in_the_viewers_time_zone(client, now):
    viewer = UserFactory(role=Role.SALES_REP)
    _mql(LeadFactory(), at=dt.datetime(2026, 3, 8, 23, 30, tzinfo=UTC))  # Mon 00:30 Berlin
    _mql(LeadFactory(), at=dt.datetime(2026, 3, 10, 9, tzinfo=UTC))
    _mql(LeadFactory(), at=dt.datetime(2026, 3, 8, 22, 30, tzinfo=UTC))  # Sun 23:30 Berlin
    _mql(LeadFactory(), at=dt.datetime(2026, 3, 2, 8, tzinfo=UTC))
    _mql(LeadFactory(), at=dt.datetime(2026, 3, 1, 8, tzinfo=UTC))  # two weeks ago
    client.force_login(viewer)

    response = client.get(reverse("web:dashboard"))

    assert figure(response, "mqls-this-week") == "2"
    assert figure(response, "mqls-last-week") == "2"


def test_a_rep_sees_their_own_open_leads_waiting_longest_first(client, now):
    rep, other = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.SALES_REP)
    newer = LeadFactory(owner=rep, first_name="Nina", last_name="Newer")
    older = LeadFactory(owner=rep, first_name="Olga", last_name="Older")
    _mql(older, at=now - dt.timedelta(days=5))
    _mql(newer, at=now - dt.timedelta(days=1))
    LeadFactory(owner=rep, stage=Stage.CUSTOMER, first_name="Closed")
    LeadFactory(owner=rep, stage=Stage.LEAD, first_name="NotYet")
    LeadFactory(owner=other, stage=Stage.MQL, first_name="Someone", last_name="Else")
    client.force_login(rep)

    response = client.get(reverse("web:dashboard"))

    assert "Your inbox" in text(response)
    assert figure(response, "open-leads") == "2"
    names = [r[0] for r in table_rows(response, "open-leads")]
    assert [n.split(" Head")[0] for n in names] == ["Olga Older", "Nina Newer"]
    assert "Someone Else" not in text(response)


def test_a_rep_without_open_leads_is_told_what_happens_next(client, now):
    client.force_login(UserFactory(role=Role.SALES_REP))

    response = client.get(reverse("web:dashboard"))

    assert "No open leads — you are all caught up" in text(response)
    assert "No stage changes this month yet" in text(response)


def test_a_manager_sees_the_open_leads_of_each_rep_of_the_team(client, now):
    team = TeamFactory(name="Sales DACH")
    manager = UserFactory(role=Role.SALES_MANAGER, team=team)
    anna = UserFactory(role=Role.SALES_REP, team=team, first_name="Anna", last_name="Alpha")
    ben = UserFactory(role=Role.SALES_REP, team=team, first_name="Ben", last_name="Beta")
    outsider = UserFactory(role=Role.SALES_REP, first_name="Olaf", last_name="Outside")
    for stage, n in ((Stage.MQL, 2), (Stage.SAL, 1), (Stage.OPPORTUNITY, 1), (Stage.CUSTOMER, 3)):
        LeadFactory.create_batch(n, owner=anna, stage=stage)
    LeadFactory(owner=ben, stage=Stage.SQL)
    LeadFactory(owner=outsider, stage=Stage.MQL)
    client.force_login(manager)

    response = client.get(reverse("web:dashboard"))

    assert "Your team's open leads by rep" in text(response)
    assert figure(response, "team-open") == "5"
    assert row(response, "team-load", "rep", str(anna.pk))[:6] == [
        "Anna Alpha",
        "2",
        "1",
        "0",
        "1",
        "4",
    ]
    assert row(response, "team-load", "rep", str(ben.pk))[:6] == [
        "Ben Beta",
        "0",
        "0",
        "1",
        "0",
        "1",
    ]
    assert [r[0] for r in table_rows(response, "team-load")] == ["Anna Alpha", "Ben Beta"]
    assert "Olaf Outside" not in text(response)


def test_a_manager_without_a_team_is_told_to_ask_for_one(client, now):
    client.force_login(UserFactory(role=Role.SALES_MANAGER))

    response = client.get(reverse("web:dashboard"))

    assert "You are not on a team yet" in text(response)


def test_marketing_sees_new_leads_and_mqls_by_source_this_month(client, now):
    viewer = UserFactory(role=Role.MARKETING_OPS)
    webinar = LeadFactory.create_batch(3, source="webinar", created_at=now - dt.timedelta(days=4))
    LeadFactory.create_batch(2, source="paid_search", created_at=now - dt.timedelta(days=4))
    old = LeadFactory(source="paid_search", created_at=dt.datetime(2026, 1, 5, tzinfo=UTC))
    for lead in webinar[:2]:
        _mql(lead, at=now - dt.timedelta(days=1))
    _mql(old, at=now - dt.timedelta(days=1))  # created in January, qualified this month
    client.force_login(viewer)

    response = client.get(reverse("web:dashboard"))

    assert "Marketing overview" in text(response)
    assert figure(response, "new-leads-month") == "5"
    assert figure(response, "mqls-month") == "3"
    assert row(response, "sources", "source", "webinar")[:3] == ["Webinar", "3", "2"]
    assert row(response, "sources", "source", "paid_search")[:3] == ["Paid search", "2", "1"]


def test_marketing_without_leads_is_told_to_import_or_add_a_form(client, now):
    client.force_login(UserFactory(role=Role.MARKETING_OPS))

    response = client.get(reverse("web:dashboard"))

    assert "No MQLs yet" in text(response)
    assert "import leads or add a form" in text(response)


def _handed_off(agreement, at, *, fit_then):
    lead = mql(at=at)
    ScoreHistory.objects.create(lead=lead, at=at, fit_score=fit_then, engagement_score=50)
    change = lead.stage_changes.get(to_stage=Stage.MQL)
    lead_route(lead_id=lead.pk, agreement=agreement, stage_change_id=change.pk, at=at)
    return lead


def test_marketing_sees_this_weeks_delivery_against_the_agreement(client, now):
    person("ana", team=sales_team("Sales"))
    agreement = sla_agreement(
        marketing={"mqls_per_period": 10, "good_fit_share": 0.6, "accepted_share": 0.5}
    )
    monday = dt.datetime(2026, 3, 9, 9, tzinfo=UTC)
    leads = [_handed_off(agreement, monday, fit_then=fit) for fit in (90, 80, 20)]
    lead_transition(lead_id=leads[0].pk, to=Stage.SAL, actor=None)
    client.force_login(UserFactory(role=Role.MARKETING_OPS))

    response = client.get(reverse("web:dashboard"))

    page = text(response)
    assert "This week's delivery to sales" in page
    assert "Week of 9 Mar, day 3 of 7" in page
    assert (figure(response, "delivery-delivered"), figure(response, "delivery-target")) == (
        "3", "10")  # fmt: skip
    # Wednesday 11:00 is 2 days 11 hours into the week: 10 x 59/168 = 3.5, so 3 are due.
    assert "on pace" in page
    assert figure(response, "delivery-fit") == "—"  # 2 of 3: too few for a rate
    assert 'data-share="2/3"' in page
    assert 'data-share="1/1"' in page
    assert "No week has ended under measurement yet" in page


def test_marketing_is_told_when_nothing_was_delivered_this_week(client, now):
    client.force_login(UserFactory(role=Role.MARKETING_OPS))

    response = client.get(reverse("web:dashboard"))

    assert figure(response, "delivery-delivered") == "0"
    assert "behind pace" in text(response)
    assert "No MQLs handed to sales yet this week" in text(response)


def test_a_revenue_leader_sees_the_funnel_and_how_far_this_quarters_mqls_got(client, now):
    leader = UserFactory(role=Role.REVENUE_LEADER)
    LeadFactory.create_batch(4, stage=Stage.LEAD)
    qualified = LeadFactory.create_batch(12)
    for lead in qualified:
        _mql(lead, at=dt.datetime(2026, 2, 2, tzinfo=UTC))
    for lead in qualified[:3]:
        lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=leader, at=now - dt.timedelta(days=9))
    client.force_login(leader)

    response = client.get(reverse("web:dashboard"))

    assert "Revenue overview" in text(response)
    assert row(response, "funnel", "stage", "lead")[:2] == ["Lead", "4"]
    assert row(response, "funnel", "stage", "mql")[:2] == ["MQL", "9"]
    assert row(response, "funnel", "stage", "sal")[:2] == ["SAL", "3"]
    assert figure(response, "cohort-mqls") == "12"
    assert row(response, "cohort", "stage", "sal") == ["SAL", "3 of 12 25 % small sample"]
    assert row(response, "cohort", "stage", "sql") == ["SQL", "0 of 12 0 % small sample"]


def test_a_rate_over_fewer_than_ten_leads_says_not_enough_data(client, now):
    leader = UserFactory(role=Role.REVENUE_LEADER)
    lead = LeadFactory()
    _mql(lead, at=now - dt.timedelta(days=2))
    lead_transition(lead_id=lead.pk, to=Stage.SAL, actor=leader, at=now - dt.timedelta(days=1))
    client.force_login(leader)

    response = client.get(reverse("web:dashboard"))

    assert row(response, "cohort", "stage", "sal") == ["SAL", "1 of 1 not enough data"]


@pytest.mark.parametrize(
    ("role", "heading"),
    [
        (Role.SALES_REP, "Your open leads"),
        (Role.SALES_MANAGER, "Your team's open leads by rep"),
        (Role.MARKETING_OPS, "New leads and MQLs by source this month"),
        (Role.REVENUE_LEADER, "How far this quarter's MQLs got"),
        (Role.ADMIN, "New leads and MQLs by source this month"),
    ],
)
def test_each_role_gets_its_own_blocks(client, now, role, heading):
    client.force_login(UserFactory(role=role))

    response = client.get(reverse("web:dashboard"))

    assert response.status_code == 200
    assert heading in text(response)

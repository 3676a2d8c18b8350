"""A team's business calendar: built from its settings and days off, set through a service
that checks it as a whole, and edited in the admin."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from leadloop.accounts.models import OutOfOffice, Role, Team, TeamDayOff, TeamKind, User
from leadloop.accounts.selectors import team_calendar
from leadloop.accounts.services import team_calendar_set
from leadloop.common.businesstime import SlaCalendarInvalid, holiday_name, is_open
from leadloop.common.errors import PermissionDenied
from tests.accounts.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_8_TO_4 = {str(day): ["08:00", "16:00"] for day in range(5)}


def _set(team: Team, actor: User | None, **overrides: Any) -> Team:
    settings: dict[str, Any] = {
        "opening_hours": WEEKDAYS_8_TO_4,
        "country": "DE",
        "subdivision": "BY",
        "time_zone": "Europe/Berlin",
        **overrides,
    }
    return team_calendar_set(team=team, actor=actor, **settings)


# --- team_calendar -------------------------------------------------------------------------


def test_a_teams_calendar_has_its_zone_hours_and_regional_holidays() -> None:
    team = TeamFactory(subdivision="BY", opening_hours=WEEKDAYS_8_TO_4)

    cal = team_calendar(team)

    assert cal.tz == BERLIN
    assert dict(cal.hours) == {day: (time(8), time(16)) for day in range(5)}
    assert holiday_name(date(2026, 1, 6), cal) == "Epiphany"
    assert not is_open(datetime(2026, 1, 6, 10, tzinfo=BERLIN), cal)
    assert is_open(datetime(2026, 1, 7, 15, 59, tzinfo=BERLIN), cal)


def test_a_teams_calendar_is_closed_on_its_own_days_off_only() -> None:
    bridged, other = TeamFactory(), TeamFactory()
    TeamDayOff.objects.create(team=bridged, on=date(2025, 5, 2), name="Bridge day")
    friday_morning = datetime(2025, 5, 2, 10, tzinfo=BERLIN)

    assert not is_open(friday_morning, team_calendar(bridged))
    assert is_open(friday_morning, team_calendar(other))


def test_a_teams_calendar_is_read_in_one_query(django_assert_num_queries: Any) -> None:
    team = TeamFactory()
    TeamDayOff.objects.create(team=team, on=date(2025, 5, 2))

    with django_assert_num_queries(1):
        cal = team_calendar(team)

    assert cal.days_off == frozenset({date(2025, 5, 2)})


def test_an_invalid_stored_calendar_names_the_team_and_the_field() -> None:
    team = TeamFactory(name="Sales DE", opening_hours={"0": ["10:00", "09:00"]})

    with pytest.raises(SlaCalendarInvalid) as info:
        team_calendar(team)

    assert info.value.message == (
        "Team 'Sales DE': opening_hours.0: closes 09:00 is not after opens 10:00"
    )
    assert info.value.loc == ("opening_hours", "0")


# --- team_calendar_set -----------------------------------------------------------------------


def test_setting_a_calendar_stores_its_canonical_form() -> None:
    team = TeamFactory()

    _set(
        team,
        None,
        opening_hours={"1": ["08:00", "16:00"], 2: ["08:30", "12:00"], "6": None},
        country="us",
        subdivision="ny",
        time_zone="America/New_York",
    )

    team.refresh_from_db()
    assert team.opening_hours == {"1": ["08:00", "16:00"], "2": ["08:30", "12:00"]}
    assert (team.country, team.subdivision, team.time_zone) == ("US", "NY", "America/New_York")


def test_a_subdivision_alias_is_stored_as_its_code() -> None:
    team = TeamFactory()

    _set(team, None, country="FR", subdivision="Alsace", time_zone="Europe/Paris")

    team.refresh_from_db()
    assert team.subdivision == "6AE"


def test_an_invalid_calendar_is_refused_and_the_team_left_unchanged() -> None:
    team = TeamFactory(opening_hours=WEEKDAYS_8_TO_4)

    with pytest.raises(SlaCalendarInvalid, match=r"^opening_hours\.2: closes 08:00 is not") as info:
        _set(team, None, opening_hours={"2": ["09:00", "08:00"]}, time_zone="Asia/Kolkata")

    assert info.value.loc == ("opening_hours", "2")
    team.refresh_from_db()
    assert (team.opening_hours, team.time_zone) == (WEEKDAYS_8_TO_4, "Europe/Berlin")


def test_a_long_subdivision_name_is_stored() -> None:
    team = TeamFactory()

    _set(team, None, country="NZ", subdivision="South Canterbury", time_zone="Pacific/Auckland")

    team.refresh_from_db()
    assert team.subdivision == "South Canterbury"


@pytest.mark.parametrize(
    ("role", "own_team"),
    [
        (Role.ADMIN, False),
        (Role.REVENUE_LEADER, False),
        (Role.SALES_MANAGER, True),
        (Role.MARKETING_OPS, True),
    ],
)
def test_admins_leaders_and_the_teams_own_managers_may_set_its_calendar(
    role: Role, own_team: bool
) -> None:
    team = TeamFactory()
    actor = UserFactory(role=role, team=team if own_team else None)

    _set(team, actor, time_zone="Europe/Vienna", country="AT", subdivision="")

    team.refresh_from_db()
    assert team.time_zone == "Europe/Vienna"


@pytest.mark.parametrize(
    ("role", "own_team"),
    [(Role.SALES_REP, True), (Role.SALES_MANAGER, False), (Role.MARKETING_OPS, False)],
)
def test_others_may_not_set_a_teams_calendar(role: Role, own_team: bool) -> None:
    team = TeamFactory(name="Sales DE")
    actor = UserFactory(
        role=role, team=team if own_team else TeamFactory(), first_name="Ana", last_name="Roth"
    )

    with pytest.raises(PermissionDenied, match="Ana Roth cannot change the business calendar"):
        _set(team, actor, time_zone="Europe/Vienna")

    team.refresh_from_db()
    assert team.time_zone == "Europe/Berlin"


# --- admin -----------------------------------------------------------------------------------


def _admin_form(team: Team, **overrides: Any) -> dict[str, Any]:
    return {
        "name": team.name,
        "kind": team.kind,
        "time_zone": team.time_zone,
        "country": team.country,
        "subdivision": team.subdivision,
        "opening_hours": json.dumps(team.opening_hours),
        "days_off-TOTAL_FORMS": "0",
        "days_off-INITIAL_FORMS": "0",
        "days_off-MIN_NUM_FORMS": "0",
        "days_off-MAX_NUM_FORMS": "1000",
        **overrides,
    }


def test_the_team_admin_shows_the_calendar_and_upcoming_closed_days(
    admin_client: Client, time_machine: Any
) -> None:
    time_machine.move_to(datetime(2025, 12, 20, 12, tzinfo=UTC), tick=False)
    team = TeamFactory(subdivision="BY")
    TeamDayOff.objects.create(team=team, on=date(2025, 12, 31), name="New Year's Eve")

    page = admin_client.get(f"/admin/accounts/team/{team.pk}/change/").content.decode()

    assert "Business calendar" in page
    assert 'name="opening_hours"' in page
    assert 'name="days_off-0-on"' in page
    assert "<div>Thu 25 Dec 2025 Christmas Day</div>" in page
    assert "<div>Wed 31 Dec 2025 Company day off</div>" in page


def test_the_team_admin_lists_opening_hours_compactly(admin_client: Client) -> None:
    TeamFactory(
        opening_hours={**{str(d): ["09:00", "17:30"] for d in range(4)}, "4": ["09:00", "15:00"]}
    )

    page = admin_client.get("/admin/accounts/team/").content.decode()

    assert "Mon-Thu 09:00-17:30, Fri 09:00-15:00" in page


def test_the_team_admin_refuses_invalid_hours_beside_the_field(admin_client: Client) -> None:
    team = TeamFactory()

    response = admin_client.post(
        f"/admin/accounts/team/{team.pk}/change/",
        _admin_form(team, opening_hours=json.dumps({"2": ["09:00", "08:00"]})),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "opening_hours": ["opening_hours.2: closes 08:00 is not after opens 09:00"]
    }


def test_the_team_admin_stores_the_canonical_calendar(admin_client: Client) -> None:
    team = TeamFactory()

    response = admin_client.post(
        f"/admin/accounts/team/{team.pk}/change/",
        _admin_form(
            team, country="de", subdivision="be", opening_hours='{"0": ["09:00", "12:00"], "1": []}'
        ),
    )

    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.country, team.subdivision) == ("DE", "BE")
    assert team.opening_hours == {"0": ["09:00", "12:00"]}


def test_out_of_office_added_in_the_admin_records_who_added_it(
    admin_client: Client, admin_user: User
) -> None:
    rep = UserFactory()

    response = admin_client.post(
        "/admin/accounts/outofoffice/add/",
        {
            "user": rep.pk,
            "starts_at_0": "2025-08-04",
            "starts_at_1": "00:00:00",
            "ends_at_0": "2025-08-15",
            "ends_at_1": "23:59:00",
            "note": "Holiday",
        },
    )

    assert response.status_code == 302
    away = OutOfOffice.objects.get()
    assert (away.user, away.created_by, away.note) == (rep, admin_user, "Holiday")


def test_days_off_have_an_admin_of_their_own(admin_client: Client) -> None:
    TeamDayOff.objects.create(
        team=TeamFactory(kind=TeamKind.MARKETING), on=date(2025, 5, 2), name="Bridge day"
    )

    page = admin_client.get("/admin/accounts/teamdayoff/").content.decode()

    assert "Bridge day" in page

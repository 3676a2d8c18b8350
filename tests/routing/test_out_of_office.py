"""Absences: who may set them, the dates they need, ending one early."""

from __future__ import annotations

import datetime as dt

import pytest

from leadloop.accounts.models import OutOfOffice, Role
from leadloop.common.errors import NotFound
from leadloop.routing.services import (
    OutOfOfficeInvalid,
    OutOfOfficeNotAllowed,
    out_of_office_end,
    out_of_office_set,
)
from tests.accounts.factories import UserFactory
from tests.routing.factories import rep, sales_team

pytestmark = pytest.mark.django_db

UTC = dt.UTC
START = dt.datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
END = dt.datetime(2026, 3, 20, 17, 0, tzinfo=UTC)


def test_a_rep_sets_their_own_absence():
    ana = rep("ana")

    absence = out_of_office_set(actor=ana, user=ana, starts_at=START, ends_at=END, note=" Holiday ")

    assert (absence.user, absence.starts_at, absence.ends_at, absence.note, absence.created_by) == (
        ana,
        START,
        END,
        "Holiday",
        ana,
    )


def test_a_sales_manager_sets_the_absence_of_their_team_but_not_of_another():
    team = sales_team("Sales DACH", "ana")
    meg = UserFactory(role=Role.SALES_MANAGER, team=team)
    ola = rep("ola", team=sales_team("Sales Nordics"))

    out_of_office_set(
        actor=meg, user=team.members.get(username="ana"), starts_at=START, ends_at=END
    )
    with pytest.raises(OutOfOfficeNotAllowed, match=r"may not set Ola's absence") as error:
        out_of_office_set(actor=meg, user=ola, starts_at=START, ends_at=END)

    assert error.value.loc == ("user",)
    assert OutOfOffice.objects.count() == 1


def test_a_rep_may_not_set_a_colleagues_absence_but_an_admin_may():
    team = sales_team("Sales DACH", "ana", "ben")
    ana, ben = team.members.get(username="ana"), team.members.get(username="ben")

    with pytest.raises(
        OutOfOfficeNotAllowed, match=r"^You \(Sales rep\) may not set Ben's absence"
    ):
        out_of_office_set(actor=ana, user=ben, starts_at=START, ends_at=END)
    out_of_office_set(actor=UserFactory(role=Role.ADMIN), user=ben, starts_at=START, ends_at=END)

    assert OutOfOffice.objects.get().user == ben


def test_an_absence_must_end_after_it_starts():
    ana = rep("ana")

    with pytest.raises(
        OutOfOfficeInvalid,
        match=r"^ends_at \(2026-03-16 08:00 UTC\) must be after starts_at \(2026-03-16 08:00 UTC\)\.$",
    ) as error:
        out_of_office_set(actor=ana, user=ana, starts_at=START, ends_at=START)

    assert error.value.loc == ("ends_at",)
    assert not OutOfOffice.objects.exists()


def test_an_absence_needs_aware_times():
    ana = rep("ana")

    with pytest.raises(OutOfOfficeInvalid, match=r"^starts_at needs a time zone"):
        out_of_office_set(actor=ana, user=ana, starts_at=START.replace(tzinfo=None), ends_at=END)


def test_ending_an_absence_that_is_going_on_ends_it_now():
    ana = rep("ana")
    absence = out_of_office_set(actor=ana, user=ana, starts_at=START, ends_at=END)
    back = dt.datetime(2026, 3, 18, 12, 0, tzinfo=UTC)

    ended = out_of_office_end(actor=ana, out_of_office_id=absence.pk, at=back)

    absence.refresh_from_db()
    assert ended.ends_at == absence.ends_at == back


def test_ending_an_absence_that_has_not_started_cancels_it():
    ana = rep("ana")
    absence = out_of_office_set(actor=ana, user=ana, starts_at=START, ends_at=END)

    out_of_office_end(actor=ana, out_of_office_id=absence.pk, at=START - dt.timedelta(days=1))

    assert not OutOfOffice.objects.exists()


def test_ending_someone_elses_absence_needs_the_same_permission():
    team = sales_team("Sales DACH", "ana", "ben")
    ana, ben = team.members.get(username="ana"), team.members.get(username="ben")
    absence = out_of_office_set(actor=ana, user=ana, starts_at=START, ends_at=END)

    with pytest.raises(OutOfOfficeNotAllowed):
        out_of_office_end(actor=ben, out_of_office_id=absence.pk, at=START)
    with pytest.raises(NotFound, match=r"^No absence with id 999999\.$"):
        out_of_office_end(actor=ana, out_of_office_id=999999)

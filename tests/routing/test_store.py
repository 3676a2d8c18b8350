"""routing.store's write: all or nothing without a savepoint, so a qualification can route its
MQL inside its own transaction."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from leadloop.routing import store
from leadloop.routing.models import Assignment, AssignmentKind, LoadPeriod, RepLoad
from tests.leads.factories import LeadFactory
from tests.routing.factories import rep

pytestmark = pytest.mark.django_db

MONDAY = dt.date(2026, 3, 9)
WEDNESDAY = dt.date(2026, 3, 11)


def _write(lead, user, *, day_cap: int, week_cap: int) -> store.Written:
    now = timezone.now()
    with transaction.atomic(savepoint=False):  # as lead_qualify's own transaction
        return store.assignment_write(
            take=store.Take(
                user_id=user.pk, day=WEDNESDAY, day_cap=day_cap, week=MONDAY, week_cap=week_cap
            ),
            owner_at=now,
            lead_id=lead.pk,
            cycle=lead.cycle,
            kind=AssignmentKind.ROUTED,
            assignee_id=user.pk,
            queue_id=None,
            previous_assignee_id=None,
            previous_queue_id=lead.queue_id,
            rule="Everyone",
            why="Everyone: round robin, Ana's turn",
            explanation=[],
            agreement_version=1,
            stage_change_id=None,
            actor_id=None,
            at=now,
        )


def _counts(user) -> dict[str, int]:
    return dict(RepLoad.objects.filter(user=user).values_list("period", "count"))


def test_a_take_that_finds_one_counter_full_gives_back_the_other_and_writes_nothing():
    ana = rep("ana")
    RepLoad.objects.create(user=ana, period=LoadPeriod.DAY, starts_on=WEDNESDAY, count=1)
    RepLoad.objects.create(user=ana, period=LoadPeriod.WEEK, starts_on=MONDAY, count=3)
    lead = LeadFactory()

    written = _write(lead, ana, day_cap=5, week_cap=3)  # the week filled up since it was read

    lead.refresh_from_db()
    assert (written.taken, written.assignment) == (1, None)
    assert _counts(ana) == {LoadPeriod.DAY: 1, LoadPeriod.WEEK: 3}
    assert not Assignment.objects.exists()
    assert lead.owner is None


def test_a_take_under_both_caps_counts_both_and_writes_the_assignment_and_owner():
    ana = rep("ana")
    RepLoad.objects.create(user=ana, period=LoadPeriod.DAY, starts_on=WEDNESDAY, count=1)
    RepLoad.objects.create(user=ana, period=LoadPeriod.WEEK, starts_on=MONDAY, count=2)
    lead = LeadFactory()

    written = _write(lead, ana, day_cap=5, week_cap=3)

    lead.refresh_from_db()
    assert written.taken == 2
    assert written.assignment is not None
    assert Assignment.objects.get().pk == written.assignment.pk
    assert _counts(ana) == {LoadPeriod.DAY: 2, LoadPeriod.WEEK: 3}
    assert lead.owner == ana

"""The batched hand-off: MQLs wait in the marketing queue and are routed once, at the due time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from leadloop.leads.models import Stage
from leadloop.lifecycle.services import lead_transition
from leadloop.loop.tasks import handoff_deliver_due
from leadloop.routing.models import Assignment, HandoffBatch
from leadloop.routing.selectors import handoff_waiting
from leadloop.routing.services import handoff_deliver, handoff_due_at, lead_route
from tests.leads.factories import LeadFactory
from tests.routing.factories import agreement, qualify, rep

pytestmark = pytest.mark.django_db

UTC = dt.UTC
WEDNESDAY = dt.datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
# Monday 16 March 2026, 09:00 in Berlin (CET, UTC+1).
DUE = dt.datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
BATCHED = {"mode": "batched", "weekday": 0, "time": "09:00", "time_zone": "Europe/Berlin"}


@pytest.fixture
def terms():
    rep("ana")
    rep("ben")
    return agreement(
        rules=[
            {
                "name": "Everyone",
                "kind": "round_robin",
                "reps": [{"username": "ana"}, {"username": "ben"}],
            }
        ],
        handoff=BATCHED,
    )


def test_the_hand_off_is_due_on_the_agreed_weekday_and_local_time(terms):
    assert handoff_due_at(agreement=terms, after=WEDNESDAY) == DUE
    assert handoff_due_at(agreement=terms, after=DUE) == DUE + dt.timedelta(days=7)
    # After the clocks go forward (29 March) 09:00 in Berlin is 07:00 UTC.
    assert handoff_due_at(agreement=terms, after=dt.datetime(2026, 3, 28, tzinfo=UTC)) == (
        dt.datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    )


def test_mqls_wait_until_the_due_time_and_are_delivered_once_oldest_first(terms, time_machine):
    older, newer = LeadFactory(), LeadFactory()
    qualify(older, at=WEDNESDAY)
    qualify(newer, at=WEDNESDAY + dt.timedelta(hours=2))
    time_machine.move_to(DUE - dt.timedelta(minutes=1), tick=False)

    before = handoff_deliver(now=timezone.now(), agreement=terms)

    assert before is not None
    assert before.delivered == 0
    assert not Assignment.objects.exists()
    assert handoff_waiting().count() == 2

    time_machine.move_to(DUE, tick=False)
    batch = handoff_deliver(now=timezone.now(), agreement=terms)
    again = handoff_deliver(now=timezone.now() + dt.timedelta(minutes=5), agreement=terms)

    assert batch is not None
    assert (batch.due_at, batch.claimed_at, batch.delivered_at, batch.delivered) == (
        DUE,
        DUE,
        DUE,
        2,
    )
    assert again is None
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.owner.username, newer.owner.username) == ("ana", "ben")
    assert Assignment.objects.filter(at=DUE).count() == 2
    assert handoff_waiting().count() == 0


def test_an_mql_that_qualifies_after_the_due_time_waits_for_the_next_batch(terms):
    late = LeadFactory()
    qualify(late, at=DUE + dt.timedelta(minutes=30))

    batch = handoff_deliver(now=DUE + dt.timedelta(hours=1), agreement=terms)
    following = handoff_deliver(now=DUE + dt.timedelta(days=7), agreement=terms)

    assert batch is not None
    assert batch.delivered == 0
    assert following is not None
    assert following.delivered == 1
    late.refresh_from_db()
    assert late.owner is not None
    assert HandoffBatch.objects.count() == 2


def test_an_mql_already_routed_or_moved_on_is_not_delivered_again(terms):
    routed, rejected = LeadFactory(), LeadFactory()
    change = qualify(routed, at=WEDNESDAY)
    lead_route(lead_id=routed.pk, agreement=terms, stage_change_id=change.pk, at=WEDNESDAY)
    qualify(rejected, at=WEDNESDAY)
    lead_transition(
        lead_id=rejected.pk, to=Stage.NURTURE, actor=None, reason="not_now", at=WEDNESDAY
    )

    batch = handoff_deliver(now=DUE, agreement=terms)

    assert batch is not None
    assert batch.delivered == 0
    assert Assignment.objects.count() == 1


def test_an_instant_hand_off_has_no_batches():
    terms = agreement(handoff={"mode": "instant"})

    assert handoff_deliver(now=DUE, agreement=terms) is None
    assert not HandoffBatch.objects.exists()


def test_the_task_delivers_the_due_batch_under_the_agreement_in_force(terms, time_machine):
    qualify(LeadFactory(), at=WEDNESDAY)
    time_machine.move_to(DUE + dt.timedelta(seconds=30), tick=False)

    delivered = handoff_deliver_due.call()
    second = handoff_deliver_due.call()

    assert (delivered, second) == (1, 0)


def test_a_delivery_that_died_half_way_is_taken_over_after_a_while(terms):
    lead = LeadFactory()
    qualify(lead, at=WEDNESDAY)
    HandoffBatch.objects.create(due_at=DUE, claimed_at=DUE)  # claimed, never delivered

    too_soon = handoff_deliver(now=DUE + dt.timedelta(minutes=5), agreement=terms)
    taken_over = handoff_deliver(now=DUE + dt.timedelta(minutes=20), agreement=terms)

    assert too_soon is None
    assert taken_over is not None
    assert (taken_over.claimed_at, taken_over.delivered) == (DUE + dt.timedelta(minutes=20), 1)
    lead.refresh_from_db()
    assert lead.owner is not None

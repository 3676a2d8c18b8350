from __future__ import annotations

import datetime as dt

import pytest

from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import (
    HistoryInvalid,
    HistoryStep,
    ReasonRequired,
    TransitionNotAllowed,
    lead_transition,
    stage_history_load,
)
from tests.accounts.factories import UserFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 3, 9, tzinfo=UTC)
STAGE_COLUMNS = (
    "stage", "stage_changed_at", "cycle", "lead_first_at", "mql_first_at", "mql_last_at",
    "sal_first_at", "sal_last_at", "sql_first_at", "nurture_last_at", "customer_first_at",
)  # fmt: skip
CHANGE_FIELDS = ("from_stage", "to_stage", "actor_id", "rule", "reason", "cycle", "at")


def _hours(n: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=n)


def _recycled_steps(rep_id: int) -> list[HistoryStep]:
    return [
        HistoryStep(to=Stage.MQL, at=_hours(1), rule="score threshold"),
        HistoryStep(to=Stage.SAL, at=_hours(5), actor_id=rep_id),
        HistoryStep(to=Stage.NURTURE, at=_hours(30), actor_id=rep_id, reason="not_now"),
        HistoryStep(to=Stage.MQL, at=_hours(900), rule="score threshold"),
    ]


def test_a_loaded_history_reads_like_the_same_live_transitions():
    rep = UserFactory()
    live, loaded = LeadFactory(), LeadFactory()
    steps = _recycled_steps(rep.pk)
    for step in steps:
        lead_transition(
            lead_id=live.pk, to=step.to, actor=rep if step.actor_id else None,
            rule=step.rule, reason=step.reason, at=step.at,
        )  # fmt: skip

    stage_history_load(histories=[(Lead.objects.get(pk=loaded.pk), steps)])

    live.refresh_from_db()
    loaded.refresh_from_db()
    assert [getattr(loaded, c) for c in STAGE_COLUMNS] == [getattr(live, c) for c in STAGE_COLUMNS]
    assert (loaded.stage, loaded.cycle) == (Stage.MQL, 2)
    assert list(loaded.stage_changes.order_by("at").values_list(*CHANGE_FIELDS)) == list(
        live.stage_changes.order_by("at").values_list(*CHANGE_FIELDS)
    )


def test_a_new_lead_is_inserted_with_its_history_from_no_stage():
    lead = Lead(email="ana@example.org", created_at=T0)

    changes = stage_history_load(
        histories=[(lead, [HistoryStep(to=Stage.LEAD, at=T0, rule="capture")])]
    )

    lead.refresh_from_db()
    assert (lead.stage, lead.lead_first_at, lead.cycle) == (Stage.LEAD, T0, 0)
    assert [(c.lead_id, c.from_stage, c.to_stage, c.rule) for c in changes] == [
        (lead.pk, "", Stage.LEAD, "capture")
    ]


def test_a_recycled_history_opens_a_second_cycle():
    rep = UserFactory()
    lead = Lead(email="bo@example.org", created_at=T0)

    stage_history_load(
        histories=[(lead, [HistoryStep(to=Stage.LEAD, at=T0), *_recycled_steps(rep.pk)])]
    )

    lead.refresh_from_db()
    assert (lead.cycle, lead.mql_first_at, lead.mql_last_at) == (2, _hours(1), _hours(900))
    assert list(lead.stage_changes.order_by("at").values_list("to_stage", "cycle")) == [
        (Stage.LEAD, 0), (Stage.MQL, 1), (Stage.SAL, 1), (Stage.NURTURE, 1), (Stage.MQL, 2),
    ]  # fmt: skip


def test_an_actor_clears_the_rule_as_in_a_live_transition():
    rep = UserFactory()
    lead = Lead(email="cy@example.org", created_at=T0)

    changes = stage_history_load(
        histories=[(lead, [HistoryStep(to=Stage.LEAD, at=T0, actor_id=rep.pk, rule="capture")])]
    )

    assert (changes[0].actor_id, changes[0].rule) == (rep.pk, "")


def test_steps_out_of_time_order_are_refused_and_nothing_is_written():
    lead = Lead(email="di@example.org", created_at=T0)
    steps = [HistoryStep(to=Stage.LEAD, at=_hours(2)), HistoryStep(to=Stage.MQL, at=_hours(1))]

    with pytest.raises(HistoryInvalid, match=r"step 2 \(mql\): 2025-03-03T10:00:00\+00:00 must be"):
        stage_history_load(histories=[(lead, steps)])

    assert (Lead.objects.count(), StageChange.objects.count()) == (0, 0)


def test_a_step_in_the_future_is_refused():
    lead = Lead(email="ed@example.org")
    later = dt.datetime.now(UTC) + dt.timedelta(days=1)

    with pytest.raises(HistoryInvalid, match="not in the future"):
        stage_history_load(histories=[(lead, [HistoryStep(to=Stage.LEAD, at=later)])])


def test_a_move_the_stage_machine_forbids_is_refused_when_strict():
    lead = Lead(email="fa@example.org", created_at=T0)
    steps = [HistoryStep(to=Stage.LEAD, at=T0), HistoryStep(to=Stage.CUSTOMER, at=_hours(1))]

    with pytest.raises(TransitionNotAllowed, match="from Lead to Customer"):
        stage_history_load(histories=[(lead, steps)])

    assert Lead.objects.count() == 0


def test_an_import_may_skip_stages_when_not_strict():
    lead = Lead(email="gu@example.org", created_at=T0)
    steps = [HistoryStep(to=Stage.LEAD, at=T0), HistoryStep(to=Stage.CUSTOMER, at=_hours(1))]

    stage_history_load(histories=[(lead, steps)], strict=False)

    lead.refresh_from_db()
    assert (lead.stage, lead.customer_first_at) == (Stage.CUSTOMER, _hours(1))


def test_a_rejection_without_reason_is_refused():
    lead = Lead(email="ha@example.org", created_at=T0)
    steps = [
        HistoryStep(to=Stage.LEAD, at=T0),
        HistoryStep(to=Stage.MQL, at=_hours(1)),
        HistoryStep(to=Stage.DISQUALIFIED, at=_hours(2)),
    ]

    with pytest.raises(ReasonRequired, match="from MQL to Disqualified needs a reason"):
        stage_history_load(histories=[(lead, steps)])


def test_an_existing_lead_continues_from_its_current_stage():
    rep = UserFactory()
    lead = LeadFactory()
    lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=None, rule="score threshold", at=T0)
    lead = Lead.objects.get(pk=lead.pk)

    stage_history_load(
        histories=[(lead, [HistoryStep(to=Stage.SAL, at=_hours(3), actor_id=rep.pk)])]
    )

    lead.refresh_from_db()
    assert (lead.stage, lead.sal_first_at, lead.mql_first_at, lead.cycle) == (
        Stage.SAL, _hours(3), T0, 1,
    )  # fmt: skip
    assert lead.stage_changes.filter(from_stage=Stage.MQL, to_stage=Stage.SAL).count() == 1

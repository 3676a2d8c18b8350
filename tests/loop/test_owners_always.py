"""Owners always: random sequences of API calls never leave a lead without an owner, never move
a stage without its StageChange row, and never reach a stage by a disallowed move.

A hypothesis state machine drives the REST API as a CRM integration and the people would:
capture touches, rescore and qualify, move stages, reject with a reason, reassign, merge.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from ninja.testing import TestClient

from leadloop.accounts.models import Role, TeamKind
from leadloop.accounts.services import token_create
from leadloop.api.main import api
from leadloop.leads.models import Lead, Stage
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import ALLOWED
from leadloop.loop.lifecycle import leads_qualify_due
from leadloop.scoring.rescore import scores_rescore
from tests.accounts.factories import TeamFactory, UserFactory
from tests.scoring.factories import active_rules

pytestmark = pytest.mark.django_db

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
_EXAMPLE = itertools.count()
REASONS = {"reject": ["not_now", "bad_fit", "no_budget"], "lost": ["price", "no_decision"]}


class OwnersMachine(RuleBasedStateMachine):
    """The model: which leads this run created and how many stage changes each should have."""

    leads = Bundle("leads")

    def __init__(self, capture: Any) -> None:
        super().__init__()
        self.capture_on_commit = capture
        self.client = TestClient(api)
        self.run = next(_EXAMPLE)
        self.survivors: set[int] = set()  # their history holds another lead's changes too
        # Each example runs in a savepoint rolled back at teardown: examples do not see each
        # other's leads, so hypothesis can replay one exactly.
        self.savepoint = transaction.atomic()
        self.savepoint.__enter__()

    @initialize()
    def people(self) -> None:
        sales = TeamFactory(name="Sales", kind=TeamKind.SALES)
        TeamFactory(name="Marketing", kind=TeamKind.MARKETING)
        self.reps = [
            UserFactory(username=f"rep{i}", role=Role.SALES_REP, team=sales) for i in range(3)
        ]
        admin = UserFactory(username="admin", role=Role.ADMIN)
        self.admin = {"Authorization": f"Bearer {token_create(user=admin, name='t').key}"}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        with self.capture_on_commit(execute=True):
            return getattr(self.client, method)(path, json=body or {}, headers=self.admin)

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.savepoint.__exit__(None, None, None)

    # --- Rules: what the API's users do ------------------------------------------------------

    @rule(
        target=leads,
        person=st.integers(0, 5),
        kind=st.sampled_from(["page_visit", "webinar", "demo", "form_fill"]),
        minutes=st.integers(1, 600),
    )
    def capture(self, person: int, kind: str, minutes: int) -> int:
        email = f"p{person}.run{self.run}@buyer{person % 3}.example"
        at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
        response = self._call(
            "post", "/touches", {"email": email, "kind": kind, "occurred_at": at.isoformat()}
        )
        assert response.status_code in (200, 201), response.json()
        return int(response.json()["lead_id"])

    @rule()
    def score(self) -> None:
        with self.capture_on_commit(execute=True):
            scores_rescore(cause="state machine")
            leads_qualify_due()

    @rule(
        lead=leads, to=st.sampled_from(list(Stage)), reason_kind=st.sampled_from(["reject", "lost"])
    )
    def move(self, lead: int, to: Stage, reason_kind: str) -> None:
        before = Lead.objects.filter(pk=lead).first()
        if before is None:
            return  # merged away
        rows = StageChange.objects.filter(lead_id=lead).count()
        response = self._call(
            "post",
            f"/leads/{lead}/stage",
            {"to": to.value, "reason": REASONS[reason_kind][0], "note": "machine"},
        )
        after = StageChange.objects.filter(lead_id=lead).count()
        if to not in ALLOWED[Stage(before.stage)]:
            assert response.status_code == 409, response.json()
            assert str(Stage(before.stage).label) in response.json()["detail"][0]["msg"]
            assert after == rows
        elif response.status_code == 200:
            assert after == rows + 1
        else:
            # An allowed move refused for its reason (a reject reason for a lost deal, or a
            # reason that sends the lead elsewhere): nothing may have changed.
            assert response.status_code == 400, response.json()
            assert after == rows

    @rule(lead=leads, reason=st.sampled_from(REASONS["reject"]))
    def reject(self, lead: int, reason: str) -> None:
        before = Lead.objects.filter(pk=lead).first()
        if before is None:
            return
        rows = StageChange.objects.filter(lead_id=lead).count()
        response = self._call("post", f"/leads/{lead}/reject", {"reason": reason})
        after = StageChange.objects.filter(lead_id=lead).count()
        if before.stage in (Stage.MQL, Stage.SAL):
            assert response.status_code == 200, response.json()
            assert after == rows + 1
        else:
            assert response.status_code == 409, response.json()
            assert after == rows

    @rule(lead=leads, rep=st.integers(0, 2))
    def reassign(self, lead: int, rep: int) -> None:
        before = Lead.objects.filter(pk=lead).select_related("owner").first()
        if before is None:
            return
        response = self._call(
            "post", f"/leads/{lead}/assign", {"assignee": f"rep{rep}", "why": "machine"}
        )
        already = before.owner is not None and before.owner.username == f"rep{rep}"
        assert response.status_code == (409 if already else 201), response.json()

    @rule(a=leads, b=leads)
    def merge(self, a: int, b: int) -> None:
        if a == b or Lead.objects.filter(pk__in=(a, b)).count() != 2:
            return
        response = self._call("post", f"/leads/{a}/merge", {"duplicate_id": b})
        assert response.status_code == 200, response.json()
        self.survivors.add(a)

    # --- Invariants: checked after every step -------------------------------------------------

    @invariant()
    def every_lead_has_an_owner(self) -> None:
        orphans = list(
            Lead.objects.filter(owner__isnull=True, queue__isnull=True).values_list("pk", flat=True)
        )
        assert orphans == [], f"leads without owner or queue: {orphans}"

    @invariant()
    def every_stage_has_its_change_row(self) -> None:
        for lead in Lead.objects.exclude(pk__in=self.survivors):
            latest = StageChange.objects.filter(lead=lead).order_by("-at", "-id").first()
            assert latest is not None, f"lead {lead.pk} has no stage history"
            assert latest.to_stage == lead.stage, (lead.pk, latest.to_stage, lead.stage)

    @invariant()
    def no_stage_is_reached_by_a_disallowed_move(self) -> None:
        for change in StageChange.objects.exclude(from_stage=""):
            assert Stage(change.to_stage) in ALLOWED[Stage(change.from_stage)], (
                change.pk,
                change.from_stage,
                change.to_stage,
            )


def test_every_lead_always_has_an_owner_and_an_audited_stage(
    django_capture_on_commit_callbacks: Any,
) -> None:
    active_rules()

    with override_settings(TASKS=IMMEDIATE):
        run_state_machine_as_test(
            lambda: OwnersMachine(django_capture_on_commit_callbacks),
            settings=settings(
                max_examples=25,
                stateful_step_count=25,
                deadline=None,
                # Shrinking replays whole API sequences against the database: minutes. The
                # printed steps of an unshrunk failure are enough to find the bug.
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
            ),
        )

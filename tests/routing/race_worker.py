"""A process of the routing race test (tests/routing/test_concurrency.py), run as a script:

    python tests/routing/race_worker.py seed [unqualified]
    python tests/routing/race_worker.py route ascending|shuffled READY_FILE GO_FILE TAG
    python tests/routing/race_worker.py qualify ascending|shuffled READY_FILE GO_FILE TAG

against the database DATABASE_URL names. ``seed`` writes the burst: a team of eight reps,
caps low enough that some reps reach them (two reps also start the week with leads already
counted), named accounts, and 500 leads made MQL. ``route`` routes every MQL qualification
of the database, one ``lead_route`` per StageChange (its own transaction), in the given
order, starting when GO_FILE appears (after writing READY_FILE), so two processes start
together; the assignments it writes carry TAG (1-999) as the microseconds of their time, so
the test sees that both processes routed. Any error ends the process with a traceback and a
non-zero status.

``seed unqualified`` leaves the 500 leads unqualified; ``qualify`` then qualifies each of
them with ``loop.lifecycle.lead_qualify`` (the instant hand-off routes inside the
qualification's transaction), a lead the other process qualified first being refused; it
prints how many leads it walked and how many it qualified.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

BURST = 500
CAP_PER_DAY = 40
CAP_PER_WEEK = 60
# Leads already counted this week before the burst: these reps reach the weekly cap first.
WEEK_ALREADY = {"ana": 45, "dan": 50}
REPS = ("ana", "ben", "cem", "dan", "eva", "fin", "gus", "hal")


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.settings")
    import django

    django.setup()


def seed(*, qualified: bool = True) -> None:
    from django.utils import timezone

    from leadloop.accounts.models import Role, Team, TeamKind, User
    from leadloop.agreements.defaults import DEFAULT_BODY
    from leadloop.agreements.models import AgreementStatus, AgreementVersion
    from leadloop.agreements.schema import AgreementBody
    from leadloop.leads.models import Company, Lead, Stage
    from leadloop.lifecycle.services import lead_transition
    from leadloop.routing.models import LoadPeriod, RepLoad
    from leadloop.routing.selectors import load_days, rep_zone

    team = Team.objects.create(name="Sales DACH", kind=TeamKind.SALES, time_zone="Europe/Berlin")
    reps = {
        name: User.objects.create(
            username=name, first_name=name.capitalize(), role=Role.SALES_REP, team=team
        )
        for name in REPS
    }
    body = {
        **DEFAULT_BODY,
        "routing": {
            "rules": [
                {"name": "Named accounts", "kind": "named_account"},
                {
                    "name": "Territory DACH",
                    "kind": "territory",
                    "regions": ["DACH"],
                    "reps": [
                        {"username": "ana", "weight": 2},
                        {"username": "ben"},
                        {"username": "cem"},
                    ],
                },
                {"name": "Everyone", "kind": "round_robin", "team": "Sales DACH"},
            ],
            "cap_per_day": CAP_PER_DAY,
            "cap_per_week": CAP_PER_WEEK,
            "fallback_queue": "Sales",
        },
    }
    AgreementVersion.objects.create(
        number=1,
        title="Race",
        body=AgreementBody.model_validate(body).model_dump(mode="json"),
        status=AgreementStatus.IN_FORCE,
        effective_at=timezone.now(),
    )
    now = timezone.now()
    for name, count in WEEK_ALREADY.items():
        _day, week = load_days(at=now, tz=rep_zone(reps[name]))
        RepLoad.objects.create(user=reps[name], period=LoadPeriod.WEEK, starts_on=week, count=count)
    # Twenty named accounts, each with a lead a rep already owns.
    accounts = []
    for i in range(20):
        company = Company.objects.create(domain=f"account{i}.example", name=f"Account {i}")
        Lead.objects.create(
            email=f"owned{i}@account{i}.example", company=company, owner=reps[REPS[i % 8]]
        )
        accounts.append(company)
    for i in range(BURST):
        company = (
            accounts[i % 20]
            if i % 5 == 0
            else Company.objects.create(
                domain=f"burst{i}.example", name=f"Burst {i}", country="DE" if i % 2 else "FR"
            )
        )
        lead = Lead.objects.create(email=f"lead{i}@burst.example", company=company)
        if qualified:
            lead_transition(lead_id=lead.pk, to=Stage.MQL, actor=None, rule="race")


def _start(ready: Path, go: Path) -> None:
    ready.touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no start signal within 60 s")
        time.sleep(0.005)


def qualify(order: str, ready: Path, go: Path, tag: int) -> None:
    from django.utils import timezone

    from leadloop.leads.models import Lead
    from leadloop.lifecycle.services import TransitionNotAllowed
    from leadloop.loop.lifecycle import lead_qualify

    leads = list(
        Lead.objects.filter(email__endswith="@burst.example").order_by("pk").values_list("pk")
    )
    if order == "shuffled":
        random.Random(7).shuffle(leads)
    _start(ready, go)
    qualified = 0
    for (lead_id,) in leads:
        try:
            lead_qualify(
                lead_id=lead_id,
                actor=None,
                rule="race",
                at=timezone.now().replace(microsecond=tag),
            )
        except TransitionNotAllowed:
            continue  # the other process qualified it first
        qualified += 1
    print(len(leads), qualified)


def route(order: str, ready: Path, go: Path, tag: int) -> None:
    from django.utils import timezone

    from leadloop.agreements.selectors import agreement_in_force
    from leadloop.leads.models import Stage
    from leadloop.lifecycle.models import StageChange
    from leadloop.routing.services import lead_route

    terms = agreement_in_force()
    changes = list(
        StageChange.objects.filter(to_stage=Stage.MQL).order_by("pk").values_list("pk", "lead_id")
    )
    if order == "shuffled":
        random.Random(7).shuffle(changes)
    _start(ready, go)
    for change_id, lead_id in changes:
        at = timezone.now().replace(microsecond=tag)
        lead_route(lead_id=lead_id, agreement=terms, stage_change_id=change_id, at=at)
    print(len(changes))


if __name__ == "__main__":
    _setup()
    if sys.argv[1] == "seed":
        seed(qualified=sys.argv[2:] != ["unqualified"])
    else:
        run = qualify if sys.argv[1] == "qualify" else route
        run(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))

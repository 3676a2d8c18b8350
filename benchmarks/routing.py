"""MQLs qualified and routed per second, against bare ``lead_transition`` calls to MQL.

    .venv/bin/python benchmarks/routing.py [--leads 2000] [--rounds 20] [--seed 1]

Runs on a fresh temporary SQLite database, or, when DATABASE_URL names PostgreSQL, on a fresh
test database beside it (created and dropped here). The sales floor: 50 reps in five teams,
an agreement with 20 routing rules (named accounts, territories by country and region, sectors,
company sizes, weighted round robin, a team round robin at the end), caps of 60 leads a day
and 300 a week, a few reps out of office. Twice `--leads` leads are made beforehand, with
companies of random sector, size and country (some companies shared, so named accounts fire).

Then, in `--rounds` alternating rounds over equal slices of the leads (so both see the same
share of a busy machine):

- the floor: ``lifecycle.services.lead_transition(to=MQL)`` per lead, each in its own
  transaction, as the lifecycle writes it;
- the value: the same transition and ``routing.services.lead_route`` for that qualification
  in the same transaction, as ``loop.lifecycle.lead_qualify`` routes an MQL under an instant
  hand-off (``savepoint=False, attempts=1``): rules, round robin, caps, the Assignment and
  the lead's owner. (The SLA clocks and webhooks that lead_qualify also starts are theirs,
  not routing's, and are left out of both sides.)

Prints the machine, the details (the statements one routing takes), then the harness's JSON
line: ratio = (qualified and routed per second) / (bare transitions per second).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import database_fresh, machine, report, stopwatch

GOAL = 0.5  # see docs/benchmarks.md, "routing"
TEAMS = ("Sales DACH", "Sales Nordics", "Sales UK", "Sales France", "Sales Americas")
SECTORS = ("Software", "Retail", "Manufacturing", "Finance", "Healthcare", "Logistics")
COUNTRIES = ("DE", "AT", "CH", "SE", "NO", "DK", "FI", "GB", "IE", "FR", "BE", "US", "CA", "BR")


def _rules(reps: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Twenty rules: one named-account rule, then narrower to wider, a team round robin last."""

    def pick(team: str, n: int, heavy: int = 0) -> list[dict[str, Any]]:
        return [
            {"username": u, "weight": 2 if i < heavy else 1} for i, u in enumerate(reps[team][:n])
        ]

    return [
        {"name": "Named accounts", "kind": "named_account"},
        {
            "name": "Enterprise DACH",
            "kind": "company_size",
            "size_min": 5000,
            "reps": pick(TEAMS[0], 3),
        },
        {
            "name": "Switzerland",
            "kind": "territory",
            "countries": ["CH"],
            "reps": pick(TEAMS[0], 4, 1),
        },
        {"name": "DACH", "kind": "territory", "regions": ["DACH"], "team": TEAMS[0]},
        {
            "name": "Nordics finance",
            "kind": "sector",
            "sectors": ["Finance"],
            "reps": pick(TEAMS[1], 3),
        },
        {"name": "Nordics", "kind": "territory", "regions": ["NORDICS"], "team": TEAMS[1]},
        {"name": "Ireland", "kind": "territory", "countries": ["IE"], "reps": pick(TEAMS[2], 2)},
        {
            "name": "UK enterprise",
            "kind": "company_size",
            "size_min": 2000,
            "reps": pick(TEAMS[2], 4, 2),
        },
        {
            "name": "UK and Ireland",
            "kind": "territory",
            "countries": ["GB", "IE"],
            "team": TEAMS[2],
        },
        {"name": "Benelux", "kind": "territory", "regions": ["BENELUX"], "reps": pick(TEAMS[3], 3)},
        {"name": "France", "kind": "territory", "countries": ["FR"], "team": TEAMS[3]},
        {"name": "Canada", "kind": "territory", "countries": ["CA"], "reps": pick(TEAMS[4], 3)},
        {"name": "LATAM", "kind": "territory", "regions": ["LATAM"], "reps": pick(TEAMS[4], 4, 1)},
        {"name": "North America", "kind": "territory", "regions": ["NA"], "team": TEAMS[4]},
        {
            "name": "Healthcare",
            "kind": "sector",
            "sectors": ["Healthcare"],
            "reps": pick(TEAMS[3], 5),
        },
        {"name": "Retail", "kind": "sector", "sectors": ["Retail"], "reps": pick(TEAMS[2], 5)},
        {
            "name": "Logistics",
            "kind": "sector",
            "sectors": ["Logistics"],
            "reps": pick(TEAMS[1], 5),
        },
        {
            "name": "Small companies",
            "kind": "company_size",
            "size_max": 49,
            "reps": pick(TEAMS[4], 6),
        },
        {
            "name": "Mid-market",
            "kind": "company_size",
            "size_min": 50,
            "size_max": 1999,
            "team": TEAMS[0],
        },
        {"name": "Everyone", "kind": "round_robin", "team": TEAMS[4]},
    ]


def _world(*, leads: int, seed: int) -> tuple[Any, list[int], list[int]]:
    """The reps, the agreement and 2 x `leads` leads; returns (agreement, floor ids, value ids)."""
    import datetime as dt

    from django.utils import timezone

    from leadloop.accounts.models import OutOfOffice, Role, Team, TeamKind, User
    from leadloop.agreements.defaults import DEFAULT_BODY
    from leadloop.agreements.models import AgreementStatus, AgreementVersion
    from leadloop.agreements.schema import AgreementBody
    from leadloop.agreements.selectors import agreement_in_force
    from leadloop.leads.models import Company, Lead

    rng = random.Random(seed)
    now = timezone.now()
    reps: dict[str, list[str]] = {}
    users: list[User] = []
    for t, name in enumerate(TEAMS):
        team = Team.objects.create(name=name, kind=TeamKind.SALES)
        reps[name] = [f"rep{t}{i}" for i in range(10)]
        users += [
            User(username=u, first_name=u.capitalize(), role=Role.SALES_REP, team=team)
            for u in reps[name]
        ]
    User.objects.bulk_create(users)
    for user in rng.sample(list(User.objects.filter(role=Role.SALES_REP)), 4):
        OutOfOffice.objects.create(
            user=user, starts_at=now - dt.timedelta(days=1), ends_at=now + dt.timedelta(days=6)
        )
    body = {
        **DEFAULT_BODY,
        "routing": {
            "rules": _rules(reps),
            "cap_per_day": 60,
            "cap_per_week": 300,
            "fallback_queue": "Sales",
        },
    }
    AgreementVersion.objects.create(
        number=1,
        title="Benchmark",
        body=AgreementBody.model_validate(body).model_dump(mode="json"),
        status=AgreementStatus.IN_FORCE,
        effective_at=now,
    )
    companies = Company.objects.bulk_create(
        Company(
            domain=f"company{i}.example",
            name=f"Company {i}",
            sector=rng.choice(SECTORS),
            employee_count=rng.choice((10, 30, 120, 400, 900, 2500, 8000)),
            country=rng.choice(COUNTRIES),
        )
        for i in range(leads * 2)
    )
    owners = list(User.objects.filter(role=Role.SALES_REP))
    # A hundred named accounts: companies that already have a lead a rep owns.
    Lead.objects.bulk_create(
        Lead(email=f"owned{i}@company{i}.example", company=companies[i], owner=rng.choice(owners))
        for i in range(100)
    )
    made = Lead.objects.bulk_create(
        Lead(
            email=f"lead{i}@bench.example",
            company=companies[rng.randrange(len(companies))],
            country=rng.choice((*COUNTRIES, "")),
        )
        for i in range(leads * 2)
    )
    ids = [lead.pk for lead in made]
    return agreement_in_force(), ids[0::2], ids[1::2]


def _slices(ids: list[int], rounds: int) -> list[list[int]]:
    size = -(-len(ids) // rounds)
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    connection, old_name = database_fresh()
    from django.db import transaction
    from django.db.models import Count
    from django.test.utils import CaptureQueriesContext

    from leadloop.leads.models import Stage
    from leadloop.lifecycle.models import StageChange
    from leadloop.lifecycle.services import lead_transition
    from leadloop.routing.models import Assignment
    from leadloop.routing.services import lead_route

    try:
        terms, floor_ids, value_ids = _world(leads=args.leads, seed=args.seed)

        def transition(lead_id: int) -> StageChange:
            return lead_transition(
                lead_id=lead_id, to=Stage.MQL, actor=None, rule="benchmark", agreement_version=1
            )

        def qualify(lead_id: int) -> int:
            return transition(lead_id).pk

        def qualify_and_route(lead_id: int) -> None:
            # As loop.lifecycle.lead_qualify does under an instant hand-off: one transaction.
            with transaction.atomic():
                change = transition(lead_id)
                lead_route(
                    lead_id=lead_id,
                    agreement=terms,
                    stage_change_id=change.pk,
                    savepoint=False,
                    attempts=1,
                    lead=change.lead,
                )

        # Warm up both paths (imports, the ORM's caches, the cursors' first rows).
        for lead_id in floor_ids[:20]:
            qualify(lead_id)
        for lead_id in value_ids[:20]:
            qualify_and_route(lead_id)
        with CaptureQueriesContext(connection) as transition_queries:
            qualify(floor_ids[20])
        with CaptureQueriesContext(connection) as route_queries:
            qualify_and_route(value_ids[20])

        floor_seconds = value_seconds = 0.0
        floor_slices = _slices(floor_ids[21:], args.rounds)
        value_slices = _slices(value_ids[21:], args.rounds)
        for r, (floor_part, value_part) in enumerate(zip(floor_slices, value_slices, strict=True)):
            order = ("floor", "value") if r % 2 == 0 else ("value", "floor")
            for which in order:
                if which == "floor":
                    with stopwatch() as watch:
                        for lead_id in floor_part:
                            qualify(lead_id)
                    floor_seconds += watch.seconds
                else:
                    with stopwatch() as watch:
                        for lead_id in value_part:
                            qualify_and_route(lead_id)
                    value_seconds += watch.seconds
        kinds = dict(
            Assignment.objects.values("kind").annotate(n=Count("id")).values_list("kind", "n")
        )
        rules_hit = Assignment.objects.exclude(rule="").values("rule").distinct().count()
    finally:
        if old_name is not None:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    floor_n = sum(len(p) for p in floor_slices)
    value_n = sum(len(p) for p in value_slices)
    print(f"machine: {machine()} database: {connection.vendor}")
    print(
        f"bare lead_transition to MQL: {floor_n} in {floor_seconds:.2f} s; "
        f"lead_transition + lead_route: {value_n} in {value_seconds:.2f} s "
        f"({args.rounds} alternating rounds); assignments by kind: {kinds}, "
        f"{rules_hit} of 20 rules routed a lead; statements: one transition "
        f"{len(transition_queries)}, one transition and its routing {len(route_queries)}"
    )
    if os.environ.get("BENCH_VERBOSE"):
        for query in route_queries.captured_queries:
            print("  ", query["sql"][:160])
    report(
        benchmark=f"routing[{connection.vendor}]",
        value=value_n / value_seconds,
        unit="MQLs qualified and routed/s",
        floor=floor_n / floor_seconds,
        better="higher",
        goal=GOAL,
    )


if __name__ == "__main__":
    main()

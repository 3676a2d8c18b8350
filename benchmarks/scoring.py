"""Full rescoring (leads/s) against a raw numpy pass over the same inputs, and one touch's p99.

    .venv/bin/python benchmarks/scoring.py [--leads 200000] [--seed 1] [--touches 2000]

The demo (``leadloop demo``) for `--leads` is generated once into a cached SQLite file under
/tmp/leadloop-scoring-bench/ and reused; each run copies it to a temporary file, migrates it,
installs the default rules (``leadloop scoring defaults``) and then times, in this order:

- the floor: one raw SQL read of the leads' rule attributes and of every touch (the same
  columns), the same rule matching (each distinct value or touch shape once), the same formulas
  in numpy (fit sum and clamp, decayed epoch terms, daily caps), and the scores written back
  with one ``executemany`` upsert of (fit, grade, engagement sum);
- ``scores_rescore()``: the service, chunks of 10,000 leads per transaction, with reasons,
  history, qualification (and the prediction when ``scoring.predict`` exists: not yet, so this
  measures fit + engagement);
- incremental scoring of `--touches` new touches one by one (``scores_capture``, as
  ``lead_capture`` calls it), each in its own transaction: p50 and p99.

Prints the machine, the details, then the harness's JSON line (ratio = rescore time / floor).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import machine, report, stopwatch

GOAL = 2.0  # rescoring within 2x the floor; see docs/benchmarks.md, "scoring"
P99_GOAL_MS = 5.0
CACHE = Path("/tmp/leadloop-scoring-bench")


def _database(leads: int, seed: int) -> Path:
    """A copy of the cached demo database for `leads` (generated on the first run)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / f"demo-{leads}-s{seed}.sqlite3"
    if not cached.exists():
        partial = cached.with_suffix(".partial.sqlite3")
        partial.unlink(missing_ok=True)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{partial}"}
        leadloop = Path(sys.executable).parent / "leadloop"
        print(f"generating the demo with {leads} leads into {cached} (once)...", flush=True)
        for args in (["migrate", "-v0"], ["demo", "--leads", str(leads), "--seed", str(seed)]):
            subprocess.run([str(leadloop), *args], env=env, check=True, stdout=subprocess.DEVNULL)
        partial.rename(cached)
    work = Path(tempfile.mkdtemp(prefix="leadloop-bench-scoring-")) / "leadloop.sqlite3"
    shutil.copyfile(cached, work)
    return work


def _setup(path: Path) -> Any:
    os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    # As in production: DEBUG off (no query log), so the numbers are the service's own.
    os.environ.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": "benchmark-only-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1",
            "LEADLOOP_SSL_REDIRECT": "false",
            "LEADLOOP_LOG_LEVEL": "WARNING",
        }
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from leadloop.scoring.defaults import scoring_defaults_install

    scoring_defaults_install()
    return connection


def _floor(connection: Any) -> float:
    """Seconds for the raw pass: read, match, numpy formulas, executemany upsert."""
    from django.utils import timezone

    from leadloop.scoring.rescore import _epoch_days_sql, _touch_shape_matcher
    from leadloop.scoring.rules import epoch_days, fit_rule_matches
    from leadloop.scoring.services import engagement_rules_active, fit_rules_active

    fit, eng = fit_rules_active(), engagement_rules_active()
    assert fit is not None
    assert eng is not None
    columns = {
        "lead.seniority": "l.seniority",
        "lead.country": "l.country",
        "lead.title": "l.title",
        "company.sector": "c.sector",
        "company.employee_count": "c.employee_count",
        "company.country": "c.country",
        "company.domain": "c.domain",
    }
    attributes = sorted({r.attribute for r in fit.rules})
    with stopwatch() as watch:
        cur = connection.connection.cursor()
        cur.execute(
            f"SELECT l.id, {', '.join(columns[a] for a in attributes)} FROM leads_lead l "
            "LEFT JOIN leads_company c ON c.id = l.company_id ORDER BY l.id"
        )
        leads = cur.fetchall()
        ids = np.array([row[0] for row in leads], dtype=np.int64)
        matrix = np.zeros((len(leads), len(fit.rules)), dtype=bool)
        for r, rule in enumerate(fit.rules):
            position = attributes.index(rule.attribute) + 1
            memo: dict[Any, bool] = {}
            for i, row in enumerate(leads):
                value = row[position]
                hit = memo.get(value)
                if hit is None:
                    hit = memo[value] = fit_rule_matches(rule, value)
                matrix[i, r] = hit
        points = np.array([r.points for r in fit.rules], dtype=np.int64)
        fit_scores = np.clip(matrix.astype(np.int64) @ points, 0, 100)
        a, b, c = fit.grades
        grades = np.where(
            fit_scores >= a,
            "A",
            np.where(fit_scores >= b, "B", np.where(fit_scores >= c, "C", "D")),
        )
        cur.execute(
            "SELECT lead_id, kind, channel, campaign_id, content_offer_id, landing_page, "
            f"properties, {_epoch_days_sql('occurred_at')} FROM capture_touch"
        )
        touches = cur.fetchall()
        match = _touch_shape_matcher(eng)
        index = {int(v): i for i, v in enumerate(ids)}
        pt: list[int] = []
        pr: list[int] = []
        for t, row in enumerate(touches):
            for r in match(row):
                pt.append(t)
                pr.append(r)
        lead_of = np.fromiter(
            (index[row[0]] for row in touches), dtype=np.int64, count=len(touches)
        )
        days = np.fromiter((row[7] for row in touches), dtype=np.float64, count=len(touches))
        pt_a, pr_a = np.asarray(pt, dtype=np.int64), np.asarray(pr, dtype=np.int64)
        caps = np.array([r.daily_cap or -1 for r in eng.rules])[pr_a]
        day = np.floor(days[pt_a])
        terms = np.array([r.points for r in eng.rules], dtype=np.float64)[pr_a] * np.exp2(
            np.where(caps >= 0, day, days[pt_a]) / eng.half_life_days
        )
        capped = np.flatnonzero(caps >= 0)
        key = (lead_of[pt_a][capped] * len(eng.rules) + pr_a[capped]) * 1_000_000 + day[
            capped
        ].astype(np.int64)
        order = np.argsort(key, kind="stable")
        sk = key[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sk)) + 1]
        rank = np.arange(sk.size) - np.repeat(starts, np.diff(np.r_[starts, sk.size]))
        over = np.zeros(capped.size, dtype=bool)
        over[order] = rank >= caps[capped][order]
        terms[capped[over]] = 0.0
        sums = np.bincount(lead_of[pt_a], weights=terms, minlength=len(ids))
        now = timezone.now()
        _ = 100 * (
            1
            - np.exp(
                -np.maximum(sums * np.exp2(-epoch_days(now) / eng.half_life_days), 0) / eng.scale
            )
        )
        stamp = connection.ops.adapt_datetimefield_value(now)
        rows = list(
            zip(
                ids.tolist(),
                fit_scores.tolist(),
                grades.tolist(),
                sums.tolist(),
                [stamp] * len(ids),
                strict=True,
            )
        )
        cur.execute("BEGIN")
        cur.executemany(
            "INSERT INTO scoring_leadscore (lead_id, fit_score, fit_grade, engagement_sum, "
            "updated_at, fit_reasons, engagement_reasons, predicted_reasons, qualifies) "
            "VALUES (?, ?, ?, ?, ?, '[]', '[]', '[]', 0) ON CONFLICT (lead_id) DO UPDATE SET "
            "fit_score = excluded.fit_score, fit_grade = excluded.fit_grade, "
            "engagement_sum = excluded.engagement_sum, updated_at = excluded.updated_at",
            rows,
        )
        cur.execute("COMMIT")
    print(f"floor: {len(ids)} leads, {len(touches)} touches, {len(pt)} rule matches")
    return watch.seconds


def _incremental(count: int, seed: int) -> list[float]:
    """Milliseconds per touch of ``scores_capture`` for `count` new touches of random leads."""
    import datetime as dt
    import time

    from django.db import transaction
    from django.utils import timezone

    from leadloop.capture.models import Touch
    from leadloop.leads.models import Lead
    from leadloop.scoring.services import scores_capture

    rng = random.Random(seed)
    top = Lead.objects.order_by("-pk").values_list("pk", flat=True).first() or 1
    kinds = ["page_visit"] * 5 + ["email_open"] * 3 + ["email_click", "webinar", "form_fill"]
    out: list[float] = []
    for n in range(count):
        lead = Lead.objects.filter(pk__lte=rng.randint(1, top)).order_by("-pk").first()
        assert lead is not None
        with transaction.atomic():
            touch = Touch.objects.create(
                lead=lead,
                kind=rng.choice(kinds),
                landing_page="https://www.example.com/pricing" if n % 7 == 0 else "",
                occurred_at=timezone.now() - dt.timedelta(minutes=rng.randint(0, 600)),
                external_id=f"bench-scoring-{seed}-{n}",
            )
            started = time.perf_counter()
            scores_capture(lead=lead, touch=touch, lead_changed=False)
            out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--touches", type=int, default=2000)
    args = parser.parse_args()

    path = _database(args.leads, args.seed)
    try:
        connection = _setup(path)
        with connection.cursor() as cursor:  # warm the page cache for both contenders
            cursor.execute("SELECT COUNT(*), SUM(length(properties)) FROM capture_touch")
            cursor.fetchone()
        floor_seconds = _floor(connection)
        from django.db.models import Count

        from leadloop.scoring.models import LeadScore
        from leadloop.scoring.rescore import scores_rescore

        with stopwatch() as watch:
            result = scores_rescore(cause="benchmark")
        grades = dict(LeadScore.objects.order_by().values_list("fit_grade").annotate(n=Count("pk")))
        times = _incremental(args.touches, args.seed)
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    p50, p99 = (float(np.percentile(times, q)) for q in (50, 99))
    print(f"machine: {machine()} database: sqlite")
    print(
        f"rescore: {result.leads} leads in {watch.seconds:.2f} s ({result.moved} history rows); "
        f"floor {floor_seconds:.2f} s; grades {json.dumps(grades, sort_keys=True)}; "
        "prediction: not measured (scoring.predict absent or no active model)"
    )
    print(
        f"incremental: {len(times)} touches, p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"(goal p99 <= {P99_GOAL_MS} ms: {'ok' if p99 <= P99_GOAL_MS else 'MISSED'})"
    )
    report(
        benchmark="scoring_rescore[sqlite]",
        value=watch.seconds,
        unit="s",
        floor=floor_seconds,
        better="lower",
        goal=GOAL,
    )


if __name__ == "__main__":
    main()

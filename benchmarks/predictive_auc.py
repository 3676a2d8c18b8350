"""Predictive AUC: Leadloop's model against a naive Bayes over per-value won/lost frequencies.

    .venv/bin/python benchmarks/predictive_auc.py [--seed 7]

On both real datasets with outcomes (X Education ``Leads.csv`` without the columns sales fills
in after talking to the lead; UCI bank marketing without ``duration``), each read with the
predictive mappings of tests/scoring/mappings by ``scoring.training.dataset_from_csv`` (the
import's reader, validator and typing; no database), on the same seeded, stratified 80/20
split:

- value: ``scoring.training.model_fit`` (logistic regression vs gradient-boosted trees picked
  by validation AUC, calibrated), its test AUC;
- floor: the approach of Odoo's predictive lead scoring, a naive Bayes that multiplies, per
  feature value, P(value | won) / P(value | lost) with Laplace smoothing (numbers in 10
  quantile bins of the training part; a missing value is its own level).

Prints each dataset's figures, then the harness's JSON line for the dataset with the lower
ratio (goal: ratio > 1, Leadloop ranks better on both).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadloop.settings")

import django  # noqa: E402

django.setup()

from _harness import machine, report, stopwatch  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from leadloop.capture.imports.mapping import mapping_load  # noqa: E402
from leadloop.scoring.features import feature_matrix, spec_build  # noqa: E402
from leadloop.scoring.training import dataset_from_csv, model_fit  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
MAPPINGS = ROOT / "tests" / "scoring" / "mappings"
DATASETS = {
    "x_education": ("x_education_leads/Leads.csv", "x_education_predict.toml"),
    "bank_marketing": ("uci_bank_marketing/bank-additional-full.csv", "uci_bank_predict.toml"),
}
GOAL = 1.0


def _levels(x: np.ndarray, n_cat: int, train: np.ndarray) -> list[list[str]]:
    """Each column as discrete levels: categories as they are, numbers in train deciles."""
    out: list[list[str]] = []
    for j in range(x.shape[1]):
        if j < n_cat:
            out.append([str(v) for v in x[:, j]])
            continue
        numbers = x[:, j].astype(float)
        known = numbers[train][~np.isnan(numbers[train])]
        edges = np.unique(np.quantile(known, np.linspace(0.1, 0.9, 9))) if len(known) else []
        out.append(
            ["nan" if math.isnan(v) else str(int(np.searchsorted(edges, v))) for v in numbers]
        )
    return out


def naive_bayes_auc(
    x: np.ndarray, n_cat: int, y: np.ndarray, train: np.ndarray, test: np.ndarray
) -> float:
    """Odoo-style: log P(won)/P(lost) + Σ log P(v|won)/P(v|lost), Laplace-smoothed."""
    columns = _levels(x, n_cat, train)
    won, lost = int(y[train].sum()), int(len(train) - y[train].sum())
    scores = np.full(len(test), math.log(won / lost))
    for levels in columns:
        counts_won: Counter[str] = Counter(levels[i] for i in train if y[i] == 1)
        counts_lost: Counter[str] = Counter(levels[i] for i in train if y[i] == 0)
        k = len(set(counts_won) | set(counts_lost)) + 1
        for t, i in enumerate(test):
            v = levels[i]
            p_won = (counts_won[v] + 1) / (won + k)
            p_lost = (counts_lost[v] + 1) / (lost + k)
            scores[t] += math.log(p_won / p_lost)
    return float(roc_auc_score(y[test], scores))


def run(name: str, seed: int) -> dict[str, Any]:
    relative, mapping_file = DATASETS[name]
    data = dataset_from_csv(
        DATA / relative,
        mapping_load(str(MAPPINGS / mapping_file)),
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    y = np.asarray(data.labels, dtype=int)
    with stopwatch() as fit_time:
        result = model_fit(
            facts=data.facts, labels=data.labels, order=[f.lead_id for f in data.facts],
            attributes=data.attributes, dates_vary=False, split="random", seed=seed,
        )  # fmt: skip
    spec = spec_build(data.attributes, data.facts)
    x = feature_matrix(spec, data.facts)
    idx = np.arange(len(y))
    train, test = train_test_split(idx, test_size=0.2, random_state=seed, stratify=y)
    nb = naive_bayes_auc(x, len(spec.categorical), y, np.asarray(train), np.asarray(test))
    ours = result.metrics["splits"]["random"]["auc"]
    row_order = (result.metrics["splits"].get("row_order") or {}).get("auc")
    print(
        f"{name}: {len(y):,} rows, base rate {y.mean():.1%}; Leadloop AUC {ours:.4f} "
        f"({result.algorithm}, fit {fit_time.seconds:.1f} s; row-order split {row_order}); "
        f"naive Bayes AUC {nb:.4f}; ratio {ours / nb:.4f}",
        flush=True,
    )
    return {"name": name, "ours": ours, "nb": nb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(machine(), flush=True)
    results = [run(name, args.seed) for name in DATASETS]
    worst = min(results, key=lambda r: r["ours"] / r["nb"])
    report(
        benchmark=f"predictive_auc ({worst['name']}, the lower ratio)",
        value=worst["ours"],
        unit="AUC",
        floor=worst["nb"],
        better="higher",
        goal=GOAL,
    )


if __name__ == "__main__":
    main()

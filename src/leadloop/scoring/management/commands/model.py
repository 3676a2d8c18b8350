"""``leadloop model train|evaluate|activate``: the predictive model from the command line.

    leadloop model train [--horizon DAYS] [--outcome customer|sql] [--seed S] [--random-split]
    leadloop model evaluate [--version V] [--json]
    leadloop model activate V

Exit status 2 when there is nothing to train on or no such version.
"""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from typing import IO, Any, cast

from django.core.management.base import BaseCommand
from rich.console import Console
from rich.table import Table

from leadloop.common.errors import LeadloopError
from leadloop.scoring.features import OUTCOMES
from leadloop.scoring.training import model_activate, model_card, model_train

EXIT_BAD_INPUT = 2


class Command(BaseCommand):
    help = "Train, evaluate and activate the predictive model."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        train = sub.add_parser("train", help="Train a new version on leads with known outcomes.")
        train.add_argument("--horizon", type=int, default=180, help="Days (default 180).")
        train.add_argument("--outcome", choices=OUTCOMES, default="customer")
        train.add_argument("--seed", type=int, default=0)
        train.add_argument(
            "--random-split",
            action="store_true",
            help="Validate on a seeded random split even when creation dates exist.",
        )
        evaluate = sub.add_parser("evaluate", help="Show a version's metrics.")
        evaluate.add_argument("--version", type=int, help="Default: the active model.")
        evaluate.add_argument("--json", action="store_true", help="Print JSON.")
        activate = sub.add_parser("activate", help="Make a stored version the active one.")
        activate.add_argument("version", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "train":
                model = model_train(
                    outcome=options["outcome"],
                    horizon_days=options["horizon"],
                    seed=options["seed"],
                    split="random" if options["random_split"] else "auto",
                )
                state = "active" if model.is_active else "stored, not active"
                self.stdout.write(f"Model v{model.version} ({model.algorithm}): {state}.")
                self.stdout.write(model.status_note)
                self._show(model_card(version=model.version))
            elif options["action"] == "activate":
                model = model_activate(version=options["version"])
                self.stdout.write(f"Model v{model.version} is now the active model.")
            else:
                card = model_card(version=options["version"])
                if options["json"]:
                    self.stdout.write(json.dumps(card, indent=2))
                elif card is None:
                    self.stdout.write(
                        "No model yet - import leads with known outcomes, then train."
                    )
                else:
                    self._show(card)
        except LeadloopError as e:
            self.stderr.write(f"error: {e.message}")
            sys.exit(EXIT_BAD_INPUT)

    def _show(self, card: dict[str, Any] | None) -> None:
        if card is None:
            return
        console = Console(file=cast(IO[str], self.stdout), width=100)
        state = "active" if card["is_active"] else "not active"
        console.print(
            f"Model v{card['version']} - {card['algorithm_label']}, {state}; outcome "
            f"{card['outcome']} within {card['horizon_days']} days; validated on the "
            f"{card['split']} split."
        )
        table = Table(
            "Split", "AUC", "Brier", "Base-rate Brier", "Log loss", "Base rate", "Train", "Test"
        )
        for name, s in card["splits"].items():
            if s is None:
                table.add_row(name, "n/a", "", "", "", "", "", "")
                continue
            table.add_row(
                name + (" (primary)" if name == card["split"] else ""),
                f"{s['auc']:.3f}", f"{s['brier']:.4f}", f"{s['base_rate_brier']:.4f}",
                f"{s['log_loss']:.4f}", f"{s['base_rate']:.1%}",
                f"{s['sizes']['train']:,}", f"{s['sizes']['test']:,}",
            )  # fmt: skip
        console.print(table)
        calibration = Table("Predicted", "Leads", "Mean predicted", "Observed")
        for b in card["calibration"]:
            mean, seen = b["mean_predicted"], b["observed"]
            calibration.add_row(
                b["bin"], f"{b['count']:,}",
                "" if mean is None else f"{mean:.3f}", "" if seen is None else f"{seen:.3f}",
            )  # fmt: skip
        console.print(calibration)
        if card["drift_note"]:
            console.print(card["drift_note"])
        console.print("Features: " + ", ".join(f["label"] for f in card["features"]))

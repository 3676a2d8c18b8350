"""``leadloop score [--all] [--lead ID ...]``: rescore leads, with a progress bar."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leadloop.scoring.rescore import scores_rescore


class Command(BaseCommand):
    help = "Recompute fit, engagement and predicted scores (all leads, or the given ids)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--all", action="store_true", help="Rescore every lead.")
        parser.add_argument("--lead", type=int, action="append", default=[], help="A lead id.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["all"] and not options["lead"]:
            raise CommandError("Say which leads: --all, or --lead ID (repeatable).")
        console = Console(file=self.stdout, highlight=False)  # type: ignore[arg-type]
        columns = (
            TextColumn("[bold]Scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("leads"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("leads", total=None)
            result = scores_rescore(
                lead_ids=None if options["all"] else options["lead"],
                cause="leadloop score",
                progress=lambda done, total: progress.update(bar, completed=done, total=total),
            )
        console.print(
            f"Scored {result.leads} leads in {result.seconds:.1f} s; "
            f"{result.moved} scores moved (history written)."
        )

"""``leadloop demo [--leads N] [--seed S] [--if-empty] [--reset] [--no-model]``: fill the database
with a demo: its history, default scoring rules, a predictive model trained on that history (so
leads show a conversion probability with its reasons from the start) and every lead scored."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from leadloop.accounts.models import User
from leadloop.agreements.selectors import agreement_in_force
from leadloop.common.errors import LeadloopError
from leadloop.demo.generator import BATCH, demo_generate, demo_reset
from leadloop.demo.handoff import HISTORY_WEEKS, demo_history_handoffs, demo_open_work_assign
from leadloop.leads.models import Lead
from leadloop.scoring.defaults import scoring_defaults_install
from leadloop.scoring.rescore import scores_rescore
from leadloop.scoring.training import model_train


class Command(BaseCommand):
    help = "Generate two years of a plausible B2B business (deterministic for a seed)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--leads", type=int, default=20_000, help="How many leads (20000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (1).")
        parser.add_argument("--batch", type=int, default=BATCH, help="Leads per transaction.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when leads exist already."
        )
        parser.add_argument("--reset", action="store_true", help="Delete earlier demo data first.")
        parser.add_argument(
            "--no-model", action="store_true", help="Do not train a predictive model."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        leads: int = options["leads"]
        if leads < 1 or options["batch"] < 1:
            raise CommandError("--leads and --batch must be at least 1.")
        existing = Lead.objects.count()
        if existing and options["if_empty"]:
            self.stdout.write(f"{existing} leads exist already; the demo leaves them alone.")
            return
        console = Console(file=self.stdout, highlight=False)  # type: ignore[arg-type]
        if existing and options["reset"]:
            deleted = demo_reset()
            console.print(f"Deleted {deleted} demo leads and their data.")
            existing = Lead.objects.count()
        if existing:
            raise CommandError(
                f"The database has {existing} leads. Run with --reset to delete the demo's data "
                "first, or --if-empty to leave a filled database alone."
            )
        started = time.perf_counter()
        columns = (
            TextColumn("[bold]Generating"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("leads"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("leads", total=leads)
            result = demo_generate(
                leads=leads,
                seed=options["seed"],
                batch_size=options["batch"],
                progress=lambda n: progress.advance(task, n),
            )
        seconds = time.perf_counter() - started
        console.print(
            f"Made {result.leads} leads at {result.companies} companies, {result.touches} "
            f"touches and {result.changes} stage changes in {seconds:.1f} s "
            f"({result.leads / seconds:,.0f} leads/s)."
        )
        # The demo shows scores from the start: default rules, a model trained on the demo's
        # history by its marketing ops, then one full rescore (fit, engagement, prediction).
        scoring_defaults_install()
        if not options["no_model"]:
            self._train(console)
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("scores", total=result.leads)
            rescored = scores_rescore(
                progress=lambda done, total: progress.update(task, completed=done, total=total)
            )
        console.print(f"Scored {rescored.leads} leads in {rescored.seconds:.1f} s.")
        agreement = agreement_in_force()
        opened = demo_open_work_assign(agreement_version=agreement.number)
        now = timezone.now()
        with console.status("Recording the hand-offs and SLA clocks of recent weeks…"):
            history = demo_history_handoffs(
                agreement=agreement, since=now - timedelta(weeks=HISTORY_WEEKS), now=now
            )
        console.print(
            f"Recorded {history.cycles} answered hand-offs of the last {HISTORY_WEEKS} weeks "
            f"with {history.clocks} SLA clocks ({history.breached} breached) and marketing's "
            f"delivery for {history.weeks} weeks."
        )
        console.print(
            f"Started the SLA clocks of {opened} open MQLs and SALs. Next: leadloop demo_users"
        )

    def _train(self, console: Console) -> None:
        started = time.perf_counter()
        try:
            with console.status("Training the predictive model on the demo's history…"):
                model = model_train(actor=User.objects.filter(username="marketing").first())
        except LeadloopError as e:  # a demo too small to learn from
            console.print(f"No predictive model: {e.message}")
            return
        state = "active" if model.is_active else "stored, not active"
        console.print(
            f"Trained predictive model v{model.version} ({model.algorithm}, {state}) in "
            f"{time.perf_counter() - started:.1f} s."
        )
        if not model.is_active:
            console.print(model.status_note)

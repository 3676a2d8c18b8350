"""``leadloop scoring defaults``: install the default rule sets where none exist."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadloop.scoring.defaults import scoring_defaults_install


class Command(BaseCommand):
    help = "Scoring set-up: `defaults` installs the default fit and engagement rules."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("action", choices=["defaults"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "defaults":
            raise CommandError(f"Unknown action {options['action']!r}.")
        fit, eng = scoring_defaults_install()
        done = [n for n, made in (("fit", fit), ("engagement", eng)) if made]
        if done:
            self.stdout.write(
                f"Installed the default {' and '.join(done)} rules. Next: leadloop score --all"
            )
        else:
            self.stdout.write("Rule sets exist already; nothing changed.")

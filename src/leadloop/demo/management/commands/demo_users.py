"""``leadloop demo_users``: one login per role, with a password printed at the end."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand
from rich.console import Console
from rich.table import Table

from leadloop.demo.staff import DEMO_PASSWORD, demo_users_ensure


class Command(BaseCommand):
    help = "Create (idempotently) one demo login per role and print them."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--password", default=DEMO_PASSWORD, help="The logins' password.")
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000/", help="Where the server will be reached."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logins = demo_users_ensure(password=options["password"])
        table = Table(title="Demo logins")
        for column in ("username", "password", "role", "team", "name"):
            table.add_column(column)
        for login in logins:
            table.add_row(
                login.username, options["password"], str(login.role.label), login.team, login.name
            )
        console = Console(file=self.stdout, highlight=False)  # type: ignore[arg-type]
        console.print(table)
        console.print(f"Sign in at {options['url']}")

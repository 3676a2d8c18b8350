"""``leadloop agreement show [--version N] [--diff]``: the agreement as Markdown.

Without ``--version`` the version in force; ``--diff`` appends what changed since the version
it is compared with (for a draft: the version in force; otherwise the one it superseded).
An unknown version exits with status 2.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadloop.agreements.diff import agreement_diff
from leadloop.agreements.render import agreement_markdown, agreement_render
from leadloop.agreements.selectors import (
    AgreementVersionMissing,
    agreement_in_force,
    agreement_predecessor,
    agreement_version_get,
    agreement_versions,
)


class Command(BaseCommand):
    help = "Show the hand-off agreement as Markdown."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        show = actions.add_parser("show", help="Print a version as Markdown (default: in force).")
        show.add_argument(
            "--version",
            dest="number",
            type=int,
            metavar="N",
            help="The version number (default: the version in force).",
        )
        show.add_argument(
            "--diff",
            action="store_true",
            help="Append the changes since the previous version (for a draft: the one in force).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        number: int | None = options["number"]
        try:
            version = (
                agreement_in_force().version
                if number is None
                else agreement_version_get(number=number)
            )
        except AgreementVersionMissing as exc:
            numbers = list(agreement_versions().values_list("number", flat=True))
            known = ", ".join(str(n) for n in sorted(numbers)) or "none"
            raise CommandError(f"{exc.message} Versions: {known}.", returncode=2) from exc
        if number is None:
            version = agreement_version_get(number=version.number)  # with its approvals
        diff = (
            agreement_diff(old=agreement_predecessor(version), new=version)
            if options["diff"]
            else None
        )
        self.stdout.write(agreement_markdown(agreement_render(version=version), diff), ending="")

"""``leadloop migrate``: Django's, then the queue database's too when there is one.

On SQLite, form submissions and the task queue live in a file of their own
(``common.database``), so
``leadloop migrate`` without ``--database`` migrates both: the one set-up step stays one.
``call_command("migrate")`` is Django's own (tests create their databases with it, one alias
at a time).
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.commands.migrate import Command as MigrateCommand

from leadloop.common.database import QUEUE


class Command(MigrateCommand):
    def run_from_argv(self, argv: list[str]) -> None:
        super().run_from_argv(argv)
        if QUEUE in settings.DATABASES and not any(a.startswith("--database") for a in argv):
            super().run_from_argv([*argv, "--database", QUEUE])

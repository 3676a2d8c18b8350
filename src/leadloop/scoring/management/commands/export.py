"""``leadloop export leads --format csv --fields F,… [--output FILE]``: every lead's scores.

Rows stream from the database in chunks. ``engagement_score`` is the current engagement
0-100 from the stored sum (METRICS.md, "Scores"), with the active engagement rules' half-life
and scale; a lead without scores has 0 and empty scores. An unknown field exits with status 2
and names it.
"""

from __future__ import annotations

import csv
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any, Final, TextIO

from django.core.management.base import BaseCommand
from django.utils import timezone

from leadloop.leads.models import Lead
from leadloop.scoring.models import EngagementRuleSet
from leadloop.scoring.predict import engagement_score

EXIT_BAD_INPUT = 2
DEFAULT_FIELDS: Final = "external_id,email,fit_score,engagement_score,predicted_probability"
# field → the column read (None: computed)
FIELDS: Final[dict[str, str | None]] = {
    "id": "pk",
    "external_id": "external_id",
    "email": "email",
    "first_name": "first_name",
    "last_name": "last_name",
    "stage": "stage",
    "source": "source",
    "created_at": "created_at",
    "fit_score": "score__fit_score",
    "fit_grade": "score__fit_grade",
    "engagement_score": None,
    "predicted_probability": "score__predicted_probability",
    "predicted_version": "score__predicted_version",
}


class Command(BaseCommand):
    help = "Export leads with their scores as CSV."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="what", required=True)
        leads = sub.add_parser("leads", help="Every lead, one row each.")
        leads.add_argument("--format", choices=["csv"], default="csv")
        leads.add_argument("--fields", default=DEFAULT_FIELDS, help="Comma-separated fields.")
        leads.add_argument("--output", type=Path, help="A file (default: standard output).")

    def handle(self, *args: Any, **options: Any) -> None:
        fields = [f.strip() for f in options["fields"].split(",") if f.strip()]
        unknown = [f for f in fields if f not in FIELDS]
        if unknown or not fields:
            self.stderr.write(
                f"error: unknown field {unknown[0]!r}" if unknown else "error: no fields"
            )
            self.stderr.write(f"the fields are: {', '.join(FIELDS)}")
            sys.exit(EXIT_BAD_INPUT)
        if options["output"]:
            with options["output"].open("w", encoding="utf-8", newline="") as out:
                n = leads_csv_write(fields, out)
            self.stderr.write(f"{n:,} leads written to {options['output']}.")
        else:
            leads_csv_write(fields, self.stdout)


def leads_csv_write(fields: list[str], out: TextIO | Any) -> int:
    """Write the header and one row per lead; returns the number of leads."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    columns = sorted({c for f in fields if (c := FIELDS[f])} | {"score__engagement_sum"})
    ruleset = EngagementRuleSet.objects.filter(is_active=True).first()
    now = timezone.now()
    n = 0
    for row in Lead.objects.order_by("pk").values(*columns).iterator(chunk_size=2000):
        values: list[Any] = []
        for f in fields:
            if f == "engagement_score":
                total = row["score__engagement_sum"]
                values.append(engagement_score(total, now, ruleset) if total is not None else 0)
                continue
            value = row[FIELDS[f] or ""]
            values.append(
                "" if value is None else value.isoformat() if f == "created_at" else value
            )
        writer.writerow(values)
        n += 1
    return n

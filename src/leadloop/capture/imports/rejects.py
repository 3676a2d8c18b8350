"""The rejected rows of an import as CSV: the same file from the CLI and the UI."""

from __future__ import annotations

import csv
from typing import Protocol

from leadloop.capture.models import ImportRejection


class _Writable(Protocol):
    def write(self, s: str, /) -> object: ...


def rejects_csv_write(*, job_id: int, out: _Writable) -> int:
    """Write job `job_id`'s rejected cells (row, column, value, reason, then the row's cells)
    to `out`; return how many lines were written after the header."""
    writer = csv.writer(out)
    writer.writerow(["row", "column", "value", "reason", "cells"])
    count = 0
    for r in ImportRejection.objects.filter(job_id=job_id).order_by("row_number", "id").iterator():
        writer.writerow([r.row_number, r.column, r.value, r.reason, *r.raw])
        count += 1
    return count

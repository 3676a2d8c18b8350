"""CSV import of leads, a use case that spans leads, lifecycle and capture.

    import_start: check the mapping against the file's header → one ImportJob (pending)
    import_run:   stream the rows from where the job stopped; per batch of rows, in ONE
                  transaction: find the batch's leads (one query), resolve companies (one
                  query + one insert), create and update leads, replay their stage histories
                  (``stage_history_apply``), store the rejected rows and the job's progress
                  (``resume_row``, ``resume_offset``, counters). A crash loses at most the
                  batch in flight; ``import_run`` again continues after the last commit.

Per row it keeps the semantics of ``leads.services.lead_upsert`` (identity by normalised
e-mail, else external id; empty values never erase; attributes merge; free-mail domains give
no company) without a query per row. Re-importing a file adds no duplicate lead or stage
change: a dated step not after the lead's latest change is history it already has.
"""

from leadloop.loop.imports.run import BATCH_ROWS, Progress, import_run, import_start
from leadloop.loop.imports.writes import CHANGE_COLUMNS, stage_history_rows

__all__ = [
    "BATCH_ROWS",
    "CHANGE_COLUMNS",
    "Progress",
    "import_run",
    "import_start",
    "stage_history_rows",
]

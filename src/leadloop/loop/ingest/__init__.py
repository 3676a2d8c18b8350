"""Touch ingestion: one touch, or a batch of up to 1,000, for leads found or created on the way.

Each touch means the same as ``loop.services.lead_capture`` with the lead's identity and the
touch: the lead is found by normalised e-mail, else by external id (or by its id), created when
new (entering the lifecycle at the touch's time), and the touch is recorded once.

``touches_ingest`` gets there in bulk, in one transaction:

    1. check every item (time, e-mail, identity, campaign and offer slugs): bad ones are
       answered with their errors and take no further part
    2. load the batch's leads in two queries, then replay the items in order in memory: which
       lead each item finds, which leads are new, which known leads gain an e-mail, external
       id or company (as ``lead_upsert`` would fill them in)
    3. companies of the new and filled-in leads: one query, one bulk insert of the missing
    4. new leads and their lifecycle entries in bulk (``lifecycle.stage_history_load``)
    5. touch external ids (``capture.touch_external_id``), the known ones in one query; new
       touches in one bulk insert; first-touch sources set with one update per source

Anything unusual — a row another request inserted meanwhile (IntegrityError), an entry ahead
of the server's clock — rolls the bulk attempt back and the batch runs item by item through
``lead_capture``, each item in its own savepoint: slower, with the same result.
"""

from leadloop.loop.ingest.batch import captures_ingest, touches_ingest
from leadloop.loop.ingest.items import IngestResult, ItemError
from leadloop.loop.ingest.single import lead_ingest, touch_capture
from leadloop.loop.ingest.specs import (
    BATCH_MAX,
    CLOCK_SKEW,
    BatchTooLarge,
    IngestConflict,
    TouchSpec,
    attribution_resolve,
    occurred_at_check,
)

__all__ = [
    "BATCH_MAX",
    "CLOCK_SKEW",
    "BatchTooLarge",
    "IngestConflict",
    "IngestResult",
    "ItemError",
    "TouchSpec",
    "attribution_resolve",
    "captures_ingest",
    "lead_ingest",
    "occurred_at_check",
    "touch_capture",
    "touches_ingest",
]

"""A batch's items and answers, and the leads they name as the batch replays them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from leadloop.capture.services import TouchInput
from leadloop.common.errors import LeadloopError
from leadloop.leads.services import LeadData
from leadloop.loop.ingest.specs import TouchSpec


@dataclass(frozen=True)
class ItemError:
    loc: tuple[str | int, ...]  # within the item: ("occurred_at",)
    msg: str
    type: str

    @classmethod
    def of(cls, exc: LeadloopError) -> ItemError:
        return cls(loc=exc.loc, msg=exc.message, type=exc.code)


@dataclass(frozen=True)
class IngestResult:
    status: Literal["created", "duplicate", "error"]
    touch_id: int | None = None
    lead_id: int | None = None
    errors: tuple[ItemError, ...] = ()


NO_ENTRY: Final = datetime.min.replace(tzinfo=UTC)


@dataclass(eq=False)
class LeadRef:
    """What a batch needs of a lead; a Lead instance would cost more than the rest of a touch."""

    pk: int | None  # None until a new lead is inserted
    email: str | None
    external_id: str | None
    company_id: int | None
    source: str
    filled: list[str] = field(default_factory=list)  # fields a known lead gains
    company_domain: str = ""  # the domain of the company it gains (its id: company_id)
    company_name: str = ""  # the name a company it gains is given (else its domain)
    data: list[LeadData] = field(default_factory=list)  # its items' lead data, in order
    refit: bool = False  # new or changed by its data: its fit is scored again
    entry_at: datetime = NO_ENTRY  # a new lead's entry into the lifecycle: its first touch


@dataclass
class Item:
    """One checked item of a batch while it is being ingested."""

    spec: TouchSpec
    data: TouchInput
    email: str  # normalised
    external_id: str  # the lead's, trimmed
    lead: LeadRef | None = None
    lead_data: LeadData | None = None  # what a capture knows of the person (forms), if anything

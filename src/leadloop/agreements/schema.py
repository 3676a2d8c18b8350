"""The body of an agreement version: what the two teams agreed, as validated data.

Stored as JSON on ``AgreementVersion.body``; parsed with ``AgreementBody.model_validate`` so
that a bad draft is refused with the field that is wrong (pydantic's ``loc``). Teams are named
by their name and people by their username, so the rendered agreement and its diff read as
words, not ids.
"""

from __future__ import annotations

import re
from difflib import get_close_matches
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadloop.common.regions import REGIONS, region_countries

Grade = Literal["A", "B", "C", "D"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ThresholdGroup(_Strict):
    """All the set conditions of a group must hold; an agreement qualifies on any group."""

    fit_grade_min: Grade | None = None
    engagement_min: int | None = Field(default=None, ge=0, le=100)
    predicted_min: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _not_empty(self) -> ThresholdGroup:
        if (
            self.fit_grade_min is None
            and self.engagement_min is None
            and self.predicted_min is None
        ):
            raise ValueError("a threshold group needs at least one condition")
        return self


class HandRaiser(_Strict):
    """A touch that qualifies a lead at once: by touch kind, by form, or by content offer kind."""

    touch_kind: str = ""
    form_slug: str = ""
    content_kind: str = ""
    label: str = ""

    @model_validator(mode="after")
    def _not_empty(self) -> HandRaiser:
        if not (self.touch_kind or self.form_slug or self.content_kind):
            raise ValueError("choose a trigger: a touch kind, a form or a content offer kind")
        return self


class Qualification(_Strict):
    groups: list[ThresholdGroup] = Field(default_factory=list)
    hand_raisers: list[HandRaiser] = Field(default_factory=list)


RuleKind = Literal["named_account", "territory", "sector", "company_size", "round_robin"]


class RepWeight(_Strict):
    username: str
    weight: int = Field(default=1, ge=1, le=100)


class RoutingRule(_Strict):
    """One routing rule; the first rule that matches a lead and has an available rep wins.

    ``named_account`` sends a lead whose company already has an owner to that owner. The other
    kinds match on the lead (``territory``: countries or regions; ``sector``; ``company_size``:
    employees between min and max) and pick among ``reps`` (or the members of ``team``) by
    weighted round robin, skipping reps out of office or at a cap. ``round_robin`` matches every
    lead.
    """

    name: str = Field(min_length=1, max_length=100)
    kind: RuleKind
    countries: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    sectors: list[str] = Field(default_factory=list)
    size_min: int | None = Field(default=None, ge=0)
    size_max: int | None = Field(default=None, ge=0)
    team: str = ""
    reps: list[RepWeight] = Field(default_factory=list)

    @field_validator("countries")
    @classmethod
    def _iso_countries(cls, value: list[str]) -> list[str]:
        for code in value:
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 code such as DE")
        return value

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: list[str]) -> list[str]:
        # The error's loc names the rule and the field; the message says what is wrong.
        for name in value:
            if region_countries(name) is None:
                close = get_close_matches(name.strip().upper().replace(" ", "_"), REGIONS, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise ValueError(
                    f"{name!r} is not a sales region ({hint}regions: {', '.join(REGIONS)})"
                )
        return value


class Routing(_Strict):
    rules: list[RoutingRule] = Field(default_factory=list)
    cap_per_day: int | None = Field(default=None, ge=1)
    cap_per_week: int | None = Field(default=None, ge=1)
    skip_out_of_office: bool = True
    marketing_queue: str = "Marketing"
    fallback_queue: str = "Sales"


class SalesSla(_Strict):
    first_response_hours: float = Field(default=16, gt=0)
    contact_attempt_hours: float = Field(default=8, gt=0)
    decision_days: float = Field(default=5, gt=0)
    remind_before_hours: float = Field(default=2, ge=0)
    pause_when_out_of_office: bool = True
    reassign_on_breach: bool = False


class MarketingSla(_Strict):
    period: Literal["week", "month"] = "week"
    mqls_per_period: int = Field(default=50, ge=0)
    good_fit_share: float = Field(default=0.6, ge=0, le=1)
    accepted_share: float = Field(default=0.5, ge=0, le=1)


class Slas(_Strict):
    sales: SalesSla = Field(default_factory=SalesSla)
    marketing: MarketingSla = Field(default_factory=MarketingSla)


ReasonKind = Literal["reject", "lost"]
ReasonAction = Literal["nurture", "recycle", "disqualify", "merge_duplicate"]


class Reason(_Strict):
    """A coded answer from sales and what follows it."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=50)
    label: str = Field(min_length=1, max_length=100)
    kind: ReasonKind
    action: ReasonAction
    track: str = ""  # the nurture track a "nurture" or "recycle" action enrols the lead in
    recycle_days: int | None = Field(default=None, ge=1, le=3650)

    @model_validator(mode="after")
    def _recycle_needs_days(self) -> Reason:
        if self.action == "recycle" and self.recycle_days is None:
            raise ValueError(f"reason {self.code!r}: a recycle action needs recycle_days")
        return self


class Handoff(_Strict):
    mode: Literal["instant", "batched"] = "instant"
    weekday: int = Field(default=0, ge=0, le=6)  # 0 = Monday, for batched
    time: str = "09:00"
    time_zone: str = "Europe/Berlin"

    @field_validator("time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day as HH:MM")
        return value


class AgreementBody(_Strict):
    qualification: Qualification = Field(default_factory=Qualification)
    routing: Routing = Field(default_factory=Routing)
    slas: Slas = Field(default_factory=Slas)
    reasons: list[Reason] = Field(default_factory=list)
    handoff: Handoff = Field(default_factory=Handoff)

    @model_validator(mode="after")
    def _unique_codes(self) -> AgreementBody:
        seen: set[tuple[str, str]] = set()
        for reason in self.reasons:
            key = (reason.kind, reason.code)
            if key in seen:
                raise ValueError(f"reason {reason.code!r} ({reason.kind}) appears twice")
            seen.add(key)
        names = [rule.name for rule in self.routing.rules]
        if len(names) != len(set(names)):
            raise ValueError("routing rule names must be unique")
        return self

    def reason(self, kind: ReasonKind, code: str) -> Reason | None:
        return next((r for r in self.reasons if r.kind == kind and r.code == code), None)

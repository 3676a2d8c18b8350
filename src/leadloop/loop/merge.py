"""Merging a duplicate lead into the lead that survives it, losing nothing.

    lock both leads (lower id first) → refuse if the duplicate holds rows the merge cannot move
    → move its touches, stage changes and earlier merge records to the survivor → combine the
    fields → record a LeadMerge with the duplicate's full snapshot → delete the duplicate.

Afterwards every touch and stage change of both leads belongs to the survivor, and every value
the duplicate held is on the survivor or in the LeadMerge snapshot. The survivor keeps its
stage: a merge is not a lifecycle move, so it writes no StageChange; the LeadMerge row is its
audit record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal, TypedDict

from django.db import transaction
from django.db.models import Field, Model
from django.utils import timezone

from leadloop.accounts.models import Role, User
from leadloop.capture.models import Touch
from leadloop.common.errors import Conflict, LeadloopError, NotFound
from leadloop.leads.models import FUNNEL, DuplicateDismissal, Lead, LeadMerge, Stage
from leadloop.leads.selectors import duplicate_reasons
from leadloop.lifecycle.models import StageChange
from leadloop.routing.models import Assignment
from leadloop.scoring.models import LeadScore, ScoreHistory
from leadloop.scoring.rescore import scores_rescore
from leadloop.scoring.services import scores_merge
from leadloop.sla.models import SlaClock
from leadloop.sla.services import clocks_on_merge

# Who may review suspected duplicates and merge them.
MERGE_ROLES: Final = frozenset({Role.MARKETING_OPS, Role.SALES_MANAGER, Role.ADMIN})

# The fields a reviewer may choose between when both leads hold a different value. Any other
# field follows the fixed rules of ``_combine``; custom attributes are chosen as "attributes.<key>".
CHOOSABLE: Final = (
    "first_name",
    "last_name",
    "title",
    "seniority",
    "phone",
    "country",
    "company",
    "owner",
    "queue",
)
ATTRIBUTE_PREFIX: Final = "attributes."

Keep = Literal["survivor", "duplicate"]

# The rows pointing at a lead that the merge moves (or, for dismissals, lets go with the
# duplicate); any other relation holding rows of the duplicate stops the merge.
_HANDLED: Final = frozenset(
    {
        (Touch, "lead"),
        (StageChange, "lead"),
        (LeadMerge, "survivor"),
        (DuplicateDismissal, "lead_low"),
        (DuplicateDismissal, "lead_high"),
        (ScoreHistory, "lead"),  # moved by scoring.scores_merge
        (LeadScore, "lead"),  # dropped; the survivor is rescored
        (Assignment, "lead"),
        (SlaClock, "lead"),
    }
)


class MergeSnapshot(TypedDict):
    lead: dict[str, Any]  # every column of the duplicate by attname; datetimes in ISO 8601
    replaced: dict[str, Any]  # survivor values that a "duplicate" choice replaced
    touch_ids: list[int]
    stage_change_ids: list[int]
    merge_ids: list[int]  # the duplicate's own earlier LeadMerge rows, now the survivor's
    assignment_ids: list[int]  # the duplicate's owner history, now the survivor's
    sla_clock_ids: list[int]  # the duplicate's SLA clocks, now the survivor's
    score_history_ids: list[int]  # the duplicate's ScoreHistory rows, now the survivor's


class MergeSameLead(LeadloopError):
    code = "merge_same_lead"


class MergeLeadMissing(NotFound):
    code = "merge_lead_missing"


class MergeChoiceInvalid(LeadloopError):
    code = "merge_choice_invalid"


class MergeWouldLoseData(Conflict):
    code = "merge_would_lose_data"


# --- Reads for the review page -----------------------------------------------------------------


def _funnel_rank(stage: str) -> int:
    """How far a stage is in the funnel; nurture counts as qualified once, disqualified as least."""
    if stage == Stage.NURTURE:
        return FUNNEL.index(Stage.MQL)
    if stage == Stage.DISQUALIFIED:
        return -1
    return FUNNEL.index(Stage(stage))


def merge_survivor_default(a: Lead, b: Lead) -> Lead:
    """The lead a reviewer is offered as survivor: further in the funnel, else the older one."""
    return min((a, b), key=lambda lead: (-_funnel_rank(lead.stage), lead.created_at, lead.pk))


@dataclass(frozen=True)
class MergeSide:
    lead: Lead
    touches: int
    stage_changes: int


@dataclass(frozen=True)
class FieldComparison:
    key: str  # a CHOOSABLE name or "attributes.<key>"
    label: str
    values: tuple[str, str]  # as shown, for lead a and lead b; "" when empty
    conflict: bool  # both hold a value and they differ: the reviewer chooses


@dataclass(frozen=True)
class MergePreview:
    a: MergeSide
    b: MergeSide
    survivor_default_id: int
    reasons: tuple[str, ...]
    fields: tuple[FieldComparison, ...]

    @property
    def conflicts(self) -> int:
        return sum(f.conflict for f in self.fields)


def _field(name: str) -> Field[Any, Any]:
    field = Lead._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def _label(name: str) -> str:
    return str(_field(name).verbose_name).capitalize()


def _shown(lead: Lead, name: str) -> str:
    if name == "seniority":
        return str(lead.get_seniority_display()) if lead.seniority else ""
    value = getattr(lead, name)
    return "" if value in (None, "") else str(value)


def merge_preview(*, a_id: int, b_id: int) -> MergePreview:
    """Both leads side by side with their counts, why they look alike, and the fields to choose.

    Raises MergeSameLead and MergeLeadMissing as ``lead_merge`` would.
    """
    if a_id == b_id:
        raise MergeSameLead(f"Lead {a_id} cannot be merged with itself.", loc=("lead_id",))
    leads = Lead.objects.select_related("company", "owner", "queue").in_bulk((a_id, b_id))
    for lead_id in (a_id, b_id):
        if lead_id not in leads:
            raise _missing(lead_id)
    a, b = leads[a_id], leads[b_id]
    fields = [
        FieldComparison(
            key=name,
            label=_label(name),
            values=(_shown(a, name), _shown(b, name)),
            conflict=bool(
                _shown(a, name) and _shown(b, name) and _shown(a, name) != _shown(b, name)
            ),
        )
        for name in CHOOSABLE
    ]
    for key in sorted(set(a.attributes) | set(b.attributes)):
        va, vb = a.attributes.get(key), b.attributes.get(key)
        fields.append(
            FieldComparison(
                key=ATTRIBUTE_PREFIX + key,
                label=key,
                values=("" if va in (None, "") else str(va), "" if vb in (None, "") else str(vb)),
                conflict=va not in (None, "") and vb not in (None, "") and va != vb,
            )
        )
    return MergePreview(
        a=_side(a),
        b=_side(b),
        survivor_default_id=merge_survivor_default(a, b).pk,
        reasons=duplicate_reasons(a, b),
        fields=tuple(fields),
    )


def _side(lead: Lead) -> MergeSide:
    return MergeSide(
        lead=lead,
        touches=Touch.objects.filter(lead_id=lead.pk).count(),
        stage_changes=StageChange.objects.filter(lead_id=lead.pk).count(),
    )


def _missing(lead_id: int) -> MergeLeadMissing:
    earlier = LeadMerge.objects.filter(merged_lead_id=lead_id).order_by("-at").first()
    if earlier is not None:
        return MergeLeadMissing(
            f"Lead {lead_id} no longer exists: it was merged into lead {earlier.survivor_id} "
            f"on {earlier.at:%Y-%m-%d %H:%M} UTC.",
            loc=("lead_id",),
        )
    return MergeLeadMissing(f"No lead with id {lead_id}.", loc=("lead_id",))


# --- The merge ---------------------------------------------------------------------------------


@transaction.atomic
def lead_merge(
    *,
    survivor_id: int,
    duplicate_id: int,
    actor: User | None,
    keep: Mapping[str, Keep] | None = None,
) -> LeadMerge:
    """Merge lead `duplicate_id` into lead `survivor_id` in one transaction; return the record.

    Empty survivor fields are filled from the duplicate; where both hold a value the survivor's
    wins unless `keep` names the field (a CHOOSABLE name or "attributes.<key>") with
    "duplicate". Fixed rules: the survivor keeps its stage, e-mail and external id (taking the
    duplicate's when it has none); the earliest created_at, first-entry and consent, the latest
    last-entry times, the older lead's first-touch source; cycles add up, as the merged history
    holds the MQL entries of both. Raises MergeSameLead, MergeLeadMissing, MergeChoiceInvalid,
    MergeWouldLoseData.
    """
    if survivor_id == duplicate_id:
        raise MergeSameLead(f"Lead {survivor_id} cannot be merged with itself.", loc=("lead_id",))
    choices = _choices(keep or {})
    # Lock in id order, so two merges of the same pair cannot deadlock each other.
    locked = {lead_id: _lock(lead_id) for lead_id in sorted((survivor_id, duplicate_id))}
    survivor, duplicate = locked[survivor_id], locked[duplicate_id]
    _refuse_unknown_rows(duplicate)

    lead_snapshot = {
        f.attname: _json(f.value_from_object(duplicate)) for f in Lead._meta.concrete_fields
    }
    touch_ids = _move(Touch.objects.filter(lead_id=duplicate.pk), lead_id=survivor.pk)
    change_ids = _move(StageChange.objects.filter(lead_id=duplicate.pk), lead_id=survivor.pk)
    merge_ids = _move(LeadMerge.objects.filter(survivor_id=duplicate.pk), survivor_id=survivor.pk)
    assignment_ids = _move(Assignment.objects.filter(lead_id=duplicate.pk), lead_id=survivor.pk)
    clocks_on_merge(duplicate_id=duplicate.pk, survivor_id=survivor.pk)  # one running per kind
    clock_ids = _move(SlaClock.objects.filter(lead_id=duplicate.pk), lead_id=survivor.pk)
    score_history_ids = scores_merge(survivor_id=survivor.pk, duplicate_id=duplicate.pk)
    replaced = _combine(survivor, duplicate, choices)

    merge = LeadMerge.objects.create(
        survivor=survivor,
        merged_lead_id=duplicate.pk,
        snapshot=MergeSnapshot(
            lead=lead_snapshot,
            replaced=replaced,
            touch_ids=touch_ids,
            stage_change_ids=change_ids,
            merge_ids=merge_ids,
            assignment_ids=assignment_ids,
            sla_clock_ids=clock_ids,
            score_history_ids=score_history_ids,
        ),
        actor=actor,
        at=timezone.now(),
    )
    # The duplicate goes before the survivor is saved: the survivor may take over its e-mail or
    # external id, both unique. Its dismissals go with it.
    duplicate.delete()
    survivor.save()
    # The survivor's scores from its combined fields and all touches of both leads.
    scores_rescore(lead_ids=[survivor.pk], cause=f"merged with lead {duplicate_id}")
    return merge


def _choices(keep: Mapping[str, str]) -> dict[str, Keep]:
    choices: dict[str, Keep] = {}
    for key, value in keep.items():
        if key not in CHOOSABLE and not (
            key.startswith(ATTRIBUTE_PREFIX) and len(key) > len(ATTRIBUTE_PREFIX)
        ):
            raise MergeChoiceInvalid(
                f"{key!r} cannot be chosen in a merge; choose one of {', '.join(CHOOSABLE)} "
                f"or {ATTRIBUTE_PREFIX}<key>.",
                loc=("keep", key),
            )
        if value not in ("survivor", "duplicate"):
            raise MergeChoiceInvalid(
                f"Keep {key!r}: {value!r} is neither 'survivor' nor 'duplicate'.",
                loc=("keep", key),
            )
        choices[key] = "duplicate" if value == "duplicate" else "survivor"
    return choices


def _lock(lead_id: int) -> Lead:
    lead = Lead.objects.select_for_update().filter(pk=lead_id).first()
    if lead is None:
        raise _missing(lead_id)
    return lead


def _refuse_unknown_rows(duplicate: Lead) -> None:
    """Stop before a relation this merge does not know would lose rows to the delete."""
    for relation in Lead._meta.related_objects:
        model = relation.related_model
        if not (isinstance(model, type) and issubclass(model, Model)):
            continue
        if (model, relation.field.name) in _HANDLED:
            continue
        if model._default_manager.filter(**{relation.field.name: duplicate.pk}).exists():
            raise MergeWouldLoseData(
                f"Lead {duplicate.pk} has {model._meta.verbose_name_plural} that a merge cannot "
                "move yet; nothing was merged.",
                loc=("duplicate_id",),
            )


def _move(rows: Any, **to: int) -> list[int]:
    ids = sorted(rows.values_list("pk", flat=True))
    rows.model.objects.filter(pk__in=ids).update(**to)
    return ids


def _empty(value: object) -> bool:
    return value is None or value == "" or value == {}


def _json(value: object) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _combine(survivor: Lead, duplicate: Lead, choices: Mapping[str, Keep]) -> dict[str, Any]:
    """Combine the duplicate's fields into the survivor (unsaved); return what was replaced."""
    replaced: dict[str, Any] = {}

    def take(attname: str, value: object) -> None:
        current = getattr(survivor, attname)
        if current != value:
            if not _empty(current):
                replaced[attname] = _json(current)
            setattr(survivor, attname, value)

    for attname in ("email", "external_id"):
        if _empty(getattr(survivor, attname)):
            take(attname, getattr(duplicate, attname))
    for name in CHOOSABLE:
        attname = _field(name).attname
        theirs = getattr(duplicate, attname)
        if not _empty(theirs) and (
            _empty(getattr(survivor, attname)) or choices.get(name) == "duplicate"
        ):
            take(attname, theirs)
    _combine_attributes(survivor, duplicate, choices, replaced)
    _combine_history(survivor, duplicate, take)
    return replaced


def _combine_attributes(
    survivor: Lead, duplicate: Lead, choices: Mapping[str, Keep], replaced: dict[str, Any]
) -> None:
    merged = dict(survivor.attributes)
    for key, value in duplicate.attributes.items():
        if _empty(value):
            continue
        if _empty(merged.get(key)):
            merged[key] = value
        elif choices.get(ATTRIBUTE_PREFIX + key) == "duplicate" and merged[key] != value:
            replaced[ATTRIBUTE_PREFIX + key] = merged[key]
            merged[key] = value
    survivor.attributes = merged


def _combine_history(survivor: Lead, duplicate: Lead, take: Callable[[str, object], None]) -> None:
    """Timestamps, source, consent and cycles: whichever of the two came first (or last)."""
    for field in Lead._meta.concrete_fields:
        ours, theirs = getattr(survivor, field.attname), getattr(duplicate, field.attname)
        if theirs is None or not field.attname.endswith(("_first_at", "_last_at")):
            continue
        earlier = field.attname.endswith("_first_at")
        if ours is None or (theirs < ours if earlier else theirs > ours):
            take(field.attname, theirs)
    older, newer = sorted((survivor, duplicate), key=lambda lead: lead.created_at)
    take("created_at", older.created_at)
    first = older if older.source else newer
    if first.source:
        take("source", first.source)
        take("source_detail", first.source_detail)
    if duplicate.consent_given and not survivor.consent_given:
        take("consent_given", True)
        take("consent_text", duplicate.consent_text)
        take("consent_at", duplicate.consent_at)
    survivor.cycle += duplicate.cycle

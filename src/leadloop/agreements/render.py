"""The agreement in words: one structure for the web page and the Markdown.

``agreement_render`` turns a version into sections of blocks (paragraphs, lists, a table);
the page template and ``agreement_markdown`` draw the very same structure, so the page and
``leadloop agreement show`` never disagree. ``agreements.diff`` compares the lines of these
sections between two versions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from django.conf import settings

from leadloop.agreements.models import AgreementStatus, AgreementVersion, ApprovalSide
from leadloop.agreements.schema import (
    AgreementBody,
    HandRaiser,
    Reason,
    RoutingRule,
    ThresholdGroup,
)
from leadloop.capture.models import TouchKind
from leadloop.content.models import ContentKind

if TYPE_CHECKING:
    from leadloop.agreements.diff import AgreementDiff

WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ACTION_WORDS: Final = {
    "nurture": "Nurture",
    "recycle": "Recycle",
    "disqualify": "Disqualify",
    "merge_duplicate": "Merge as duplicate",
}
RULE_KIND_WORDS: Final = {
    "named_account": "named accounts",
    "territory": "territory",
    "sector": "sector",
    "company_size": "company size",
    "round_robin": "round robin",
}


# --- The structure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    text: str

    def lines(self) -> list[str]:
        return [self.text]


@dataclass(frozen=True)
class ItemList:
    items: tuple[str, ...]
    title: str = ""
    ordered: bool = False

    def lines(self) -> list[str]:
        return list(self.items)


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    row_lines: tuple[str, ...]  # each row as a sentence, for the diff

    def lines(self) -> list[str]:
        return list(self.row_lines)


Block = Paragraph | ItemList | Table


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    blocks: tuple[Block, ...]

    def lines(self) -> list[str]:
        return [line for block in self.blocks for line in block.lines()]


@dataclass(frozen=True)
class ApprovalLine:
    side: str  # ApprovalSide value
    side_label: str
    by: str | None  # None: not approved yet
    at: dt.datetime | None
    note: str = ""


@dataclass(frozen=True)
class RenderedAgreement:
    number: int
    title: str
    preamble: str
    status: str
    status_label: str
    created_at: dt.datetime
    created_by: str
    effective_at: dt.datetime | None
    superseded_at: dt.datetime | None
    approvals: tuple[ApprovalLine, ...]
    sections: tuple[Section, ...]

    @property
    def in_force(self) -> bool:
        return self.status == AgreementStatus.IN_FORCE


# --- Words -------------------------------------------------------------------------------------


def percent(share: float) -> str:
    """0.25 -> '25 %'; 0.125 -> '12.5 %'."""
    return f"{round(share * 100, 2):g} %"


def _number(value: float) -> str:
    return f"{value:g}"


def _plural(count: float, one: str, many: str) -> str:
    return f"{_number(count)} {one if count == 1 else many}"


def group_words(group: ThresholdGroup) -> str:
    """'fit grade is B or better and engagement is at least 40'."""
    parts = []
    if group.fit_grade_min is not None:
        grade = group.fit_grade_min
        parts.append(f"fit grade is {grade}" + ("" if grade == "A" else " or better"))
    if group.engagement_min is not None:
        parts.append(f"engagement is at least {group.engagement_min}")
    if group.predicted_min is not None:
        parts.append(f"the predicted probability is at least {percent(group.predicted_min)}")
    return " and ".join(parts)


def hand_raiser_words(raiser: HandRaiser) -> str:
    """What the trigger is, in words: 'a Demo touch', 'the form "pricing"'."""
    parts = []
    if raiser.touch_kind:
        parts.append(f"a touch of kind {_label(TouchKind, raiser.touch_kind)}")
    if raiser.form_slug:
        parts.append(f'a submission of the form "{raiser.form_slug}"')
    if raiser.content_kind:
        parts.append(f"a content offer of kind {_label(ContentKind, raiser.content_kind)}")
    return " or ".join(parts)


def _label(choices: type[TouchKind] | type[ContentKind], value: str) -> str:
    return str(dict(choices.choices).get(value, value))


def hand_raiser_label(raiser: HandRaiser) -> str:
    return raiser.label or hand_raiser_words(raiser)


def qualification_sentence(body: AgreementBody) -> str:
    """'A lead becomes an MQL when fit grade is B or better and engagement is at least 40, or
    the predicted probability is at least 25 %; at once on: Demo request, Price sheet.'"""
    q = body.qualification
    raisers = ", ".join(hand_raiser_label(r) for r in q.hand_raisers)
    if q.groups:
        text = "A lead becomes an MQL when " + ", or ".join(group_words(g) for g in q.groups)
        return text + (f"; at once on: {raisers}." if raisers else "; no touch qualifies at once.")
    if raisers:
        return f"No score makes a lead an MQL; only a hand-raiser does, at once: {raisers}."
    return "No score and no touch makes a lead an MQL; marketing ops promotes leads by hand."


def _list_words(values: Sequence[str]) -> str:
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " or " + values[-1]


def rule_match_words(rule: RoutingRule) -> str:
    """Which leads a rule takes, in words."""
    if rule.kind == "named_account":
        return "a lead whose company already has an owner"
    if rule.kind == "territory":
        places = [*rule.countries, *(f"region {r}" for r in rule.regions)]
        return f"leads from {_list_words(places)}" if places else "leads from any country"
    if rule.kind == "sector":
        return f"leads in {_list_words(rule.sectors)}" if rule.sectors else "leads of any sector"
    if rule.kind == "company_size":
        if rule.size_min is not None and rule.size_max is not None:
            return f"leads of companies with {rule.size_min} to {rule.size_max} employees"
        if rule.size_min is not None:
            return f"leads of companies with at least {rule.size_min} employees"
        if rule.size_max is not None:
            return f"leads of companies with at most {rule.size_max} employees"
        return "leads of companies of any size"
    return "every lead"


def rule_who_words(rule: RoutingRule) -> str:
    """Who gets the leads of a rule, in words (the verb agrees with ``rule_match_words``)."""
    go = "goes" if rule.kind in ("named_account", "round_robin") else "go"
    if rule.kind == "named_account":
        return f"{go} to that owner"
    if rule.reps:
        reps = [r.username + (f" (weight {r.weight})" if r.weight != 1 else "") for r in rule.reps]
        if len(reps) == 1:
            return f"{go} to {reps[0]}"
        return f"{go} in turn to {', '.join(reps[:-1])} and {reps[-1]}"
    if rule.team:
        return f'{go} in turn to the members of team "{rule.team}"'
    return f"{go} to the fallback queue"


def rule_words(rule: RoutingRule) -> str:
    """'DACH (territory): leads from DE, AT or CH go in turn to ana (weight 2) and ben.'"""
    kind = RULE_KIND_WORDS[rule.kind]
    name = rule.name if rule.name.lower() == kind else f"{rule.name} ({kind})"
    return f"{name}: {rule_match_words(rule)} {rule_who_words(rule)}."


def reason_action_words(reason: Reason) -> str:
    """'Recycle after 90 days (nurture track "value")'."""
    track = f' (nurture track "{reason.track}")' if reason.track else ""
    if reason.action == "recycle":
        days = _plural(reason.recycle_days or 0, "day", "days")
        return f"Recycle after {days}{track}"
    if reason.action == "nurture":
        return f"Nurture{track}"
    if reason.action == "merge_duplicate":
        return "Merge as duplicate"
    return "Disqualify"


def handoff_words(body: AgreementBody) -> str:
    handoff = body.handoff
    if handoff.mode == "instant":
        return "Instant: an MQL is handed to sales the moment it qualifies."
    return (
        "Batched: MQLs are collected and handed to sales every "
        f"{WEEKDAYS[handoff.weekday]} at {handoff.time} ({handoff.time_zone})."
    )


# --- Sections ----------------------------------------------------------------------------------


def _qualification(body: AgreementBody) -> Section:
    blocks: list[Block] = [Paragraph(qualification_sentence(body))]
    if body.qualification.hand_raisers:
        blocks.append(
            ItemList(
                title="Hand-raisers: qualify at once",
                items=tuple(
                    f"{hand_raiser_label(r)}: {hand_raiser_words(r)}."
                    for r in body.qualification.hand_raisers
                ),
            )
        )
    return Section("qualification", "Qualification: when a lead becomes an MQL", tuple(blocks))


def _routing(body: AgreementBody) -> Section:
    routing = body.routing
    blocks: list[Block] = []
    if routing.rules:
        blocks.append(
            Paragraph("The first rule that matches a lead and has a rep available decides.")
        )
        blocks.append(ItemList(items=tuple(rule_words(r) for r in routing.rules), ordered=True))
    else:
        blocks.append(Paragraph("No routing rule: every MQL waits in the fallback queue."))
    caps = []
    if routing.cap_per_day is not None:
        caps.append(f"{_plural(routing.cap_per_day, 'new lead', 'new leads')} a day")
    if routing.cap_per_week is not None:
        caps.append(f"{_plural(routing.cap_per_week, 'new lead', 'new leads')} a week")
    blocks.append(
        Paragraph(
            f"Each rep takes at most {' and '.join(caps)}."
            if caps
            else "Reps have no cap on new leads."
        )
    )
    blocks.append(
        Paragraph(
            "Reps who are out of office are skipped."
            if routing.skip_out_of_office
            else "Reps who are out of office still receive leads."
        )
    )
    blocks.append(
        Paragraph(
            f'A lead no rule can place waits in the queue "{routing.fallback_queue}"; leads '
            f"marketing holds (before hand-off, after a reject) are in the queue "
            f'"{routing.marketing_queue}".'
        )
    )
    return Section("routing", "Routing: who gets an MQL", tuple(blocks))


def _slas(body: AgreementBody) -> Section:
    sales, marketing = body.slas.sales, body.slas.marketing
    per = "a week" if marketing.period == "week" else "a month"
    sales_items = (
        f"The owner answers a new MQL (accepts it, or rejects it with a reason) within "
        f"{_plural(sales.first_response_hours, 'business hour', 'business hours')} of "
        "assignment.",
        f"After accepting, the owner makes a first contact attempt within "
        f"{_plural(sales.contact_attempt_hours, 'business hour', 'business hours')}.",
        f"An accepted lead is qualified (SQL) or disqualified within "
        f"{_plural(sales.decision_days, 'business day', 'business days')} of acceptance.",
        (
            f"The owner is reminded {_plural(sales.remind_before_hours, 'hour', 'hours')} "
            "before a deadline."
            if sales.remind_before_hours
            else "No reminder before a deadline."
        ),
        (
            "Clocks pause while the owner is out of office."
            if sales.pause_when_out_of_office
            else "Clocks keep running while the owner is out of office."
        ),
        (
            "A lead whose clock breaches is reassigned."
            if sales.reassign_on_breach
            else "A breached clock is escalated to the sales manager; the lead keeps its owner."
        ),
    )
    marketing_items = (
        f"Marketing hands over {_plural(marketing.mqls_per_period, 'MQL', 'MQLs')} {per}.",
        f"At least {percent(marketing.good_fit_share)} of them have a good fit.",
        f"At least {percent(marketing.accepted_share)} of them are accepted by sales.",
    )
    return Section(
        "slas",
        "SLAs: what each team promises",
        (
            ItemList(title="Sales", items=sales_items),
            ItemList(title="Marketing", items=marketing_items),
        ),
    )


def _reasons(body: AgreementBody) -> Section:
    kinds = {"reject": "Reject", "lost": "Lost"}
    rows = tuple((kinds[r.kind], r.label, r.code, reason_action_words(r)) for r in body.reasons)
    lines = tuple(
        f'{kinds[r.kind]} reason "{r.label}" ({r.code}): {reason_action_words(r).lower()}.'
        for r in body.reasons
    )
    blocks: tuple[Block, ...] = (
        (
            Paragraph("Every answer from sales names a reason; the reason decides what follows."),
            Table(headers=("Answer", "Reason", "Code", "Next action"), rows=rows, row_lines=lines),
        )
        if body.reasons
        else (Paragraph("No reasons yet: sales cannot reject or lose a lead with a reason."),)
    )
    return Section("reasons", "Reasons: what follows each answer", blocks)


def _handoff(body: AgreementBody) -> Section:
    return Section("handoff", "Hand-off", (Paragraph(handoff_words(body)),))


def body_sections(body: AgreementBody) -> tuple[Section, ...]:
    """The sections of a body, in reading order."""
    return (_qualification(body), _routing(body), _slas(body), _reasons(body), _handoff(body))


def agreement_render(*, version: AgreementVersion) -> RenderedAgreement:
    """`version` as readable sections, with who approved each side and when (uses the
    version's approvals: prefetch ``approvals__user`` when rendering many)."""
    body = AgreementBody.model_validate(version.body)
    approvals = {a.side: a for a in version.approvals.all()}
    lines = []
    for side in ApprovalSide:
        approval = approvals.get(side)
        lines.append(
            ApprovalLine(
                side=side.value,
                side_label=str(side.label),
                by=str(approval.user) if approval else None,
                at=approval.at if approval else None,
                note=approval.note if approval else "",
            )
        )
    return RenderedAgreement(
        number=version.number,
        title=version.title,
        preamble=version.preamble,
        status=version.status,
        status_label=str(version.get_status_display()),
        created_at=version.created_at,
        created_by=str(version.created_by) if version.created_by else "the system",
        effective_at=version.effective_at,
        superseded_at=version.superseded_at,
        approvals=tuple(lines),
        sections=body_sections(body),
    )


# --- Markdown ----------------------------------------------------------------------------------


def _when(at: dt.datetime) -> str:
    zone = ZoneInfo(getattr(settings, "LEADLOOP_DEFAULT_TIME_ZONE", "UTC"))
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def status_words(rendered: RenderedAgreement) -> str:
    """'In force since 2026-05-04 09:00 CEST.', 'Draft by Olga Ops, 2026-05-02 10:00 CEST.'"""
    if rendered.status == AgreementStatus.IN_FORCE and rendered.effective_at is not None:
        return f"In force since {_when(rendered.effective_at)}."
    if rendered.status == AgreementStatus.SUPERSEDED and rendered.superseded_at is not None:
        since = f" from {_when(rendered.effective_at)}" if rendered.effective_at else ""
        return f"Superseded: was in force{since} to {_when(rendered.superseded_at)}."
    return f"{rendered.status_label} by {rendered.created_by}, {_when(rendered.created_at)}."


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _block_markdown(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text, ""]
    if isinstance(block, ItemList):
        head = [f"**{block.title}**", ""] if block.title else []
        marks = [f"{i}." if block.ordered else "-" for i in range(1, len(block.items) + 1)]
        return [*head, *(f"{m} {item}" for m, item in zip(marks, block.items, strict=True)), ""]
    rows = [
        "| " + " | ".join(block.headers) + " |",
        "|" + "|".join("---" for _ in block.headers) + "|",
        *("| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows),
    ]
    return [*rows, ""]


def agreement_markdown(rendered: RenderedAgreement, diff: AgreementDiff | None = None) -> str:
    """The rendered agreement as Markdown (with `diff` appended when given)."""
    out = [f"# Hand-off agreement v{rendered.number}: {rendered.title}", ""]
    out += [status_words(rendered), ""]
    for approval in rendered.approvals:
        if approval.by is not None and approval.at is not None:
            note = f' ("{approval.note}")' if approval.note else ""
            out.append(
                f"- Approved for {approval.side_label.lower()} by {approval.by} "
                f"on {_when(approval.at)}{note}."
            )
        else:
            out.append(f"- Not yet approved for {approval.side_label.lower()}.")
    out.append("")
    if rendered.preamble:
        out += [f"> {line}" if line else ">" for line in rendered.preamble.splitlines()]
        out.append("")
    for section in rendered.sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            out += _block_markdown(block)
    if diff is not None:
        out += diff_markdown(diff)
    return "\n".join(out).rstrip() + "\n"


def diff_markdown(diff: AgreementDiff) -> list[str]:
    """The diff as Markdown lines: a heading, then each section's changes."""
    if diff.old_number is None:
        title = f"## Changes in v{diff.new_number}"
        return [title, "", f"v{diff.new_number} is the first version: nothing to compare with.", ""]
    out = [f"## Changes in v{diff.new_number} since v{diff.old_number}", ""]
    if diff.empty:
        return [*out, "No changes.", ""]
    for section in diff.sections:
        out += [f"### {section.title}", ""]
        out += [f"- {change.words()}" for change in section.changes]
        out.append("")
    return out

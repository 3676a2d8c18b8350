"""What changed between two versions of the agreement, section by section, in sentences.

The rendered lines of each section (``Section.lines``) are compared with difflib: a replaced
line is "changed" (old -> new), a line only in one version "added" or "removed", and a line
removed in one place and added in another (a routing rule reordered) "moved".
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from leadloop.agreements.models import AgreementVersion
from leadloop.agreements.render import body_sections
from leadloop.agreements.schema import AgreementBody

ChangeKind = Literal["added", "removed", "changed", "moved"]


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    text: str  # the new line (the old one for "removed")
    old: str = ""  # for "changed": the line before

    def words(self) -> str:
        if self.kind == "changed":
            return f"Changed: {self.old} -> {self.text}"
        return f"{self.kind.capitalize()}: {self.text}"

    def segments(self) -> list[tuple[str, str]]:
        """A changed line word by word: ("same" | "removed" | "added", text) pieces, so a page
        can strike out what went and mark what came."""
        if self.kind != "changed":
            return [("same", self.text)]
        old, new = self.old.split(" "), self.text.split(" ")
        out: list[tuple[str, str]] = []
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        for op, a1, a2, b1, b2 in matcher.get_opcodes():
            if op == "equal":
                out.append(("same", " ".join(new[b1:b2])))
                continue
            if a2 > a1:
                out.append(("removed", " ".join(old[a1:a2])))
            if b2 > b1:
                out.append(("added", " ".join(new[b1:b2])))
        return out


@dataclass(frozen=True)
class SectionDiff:
    key: str
    title: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class AgreementDiff:
    old_number: int | None
    new_number: int
    sections: tuple[SectionDiff, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.sections


def _changes(old: Sequence[str], new: Sequence[str]) -> list[Change]:
    out: list[Change] = []
    matcher = difflib.SequenceMatcher(a=list(old), b=list(new), autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            continue
        removed, added = list(old[a1:a2]), list(new[b1:b2])
        pairs = min(len(removed), len(added)) if op == "replace" else 0
        out += [Change("changed", added[i], removed[i]) for i in range(pairs)]
        out += [Change("removed", line) for line in removed[pairs:]]
        out += [Change("added", line) for line in added[pairs:]]
    # A line removed in one place and added in another moved (a rule reordered).
    gone = {c.text for c in out if c.kind == "removed"}
    came = {c.text for c in out if c.kind == "added"}
    moved = gone & came
    result = [c for c in out if not (c.kind == "removed" and c.text in moved)]
    return [Change("moved", c.text) if c.kind == "added" and c.text in moved else c for c in result]


def _header_lines(version: AgreementVersion) -> list[str]:
    lines = [f"Title: {version.title}"]
    if version.preamble:
        lines.append(f"Preamble: {version.preamble}")
    return lines


def agreement_diff(*, old: AgreementVersion | None, new: AgreementVersion) -> AgreementDiff:
    """What changed from `old` to `new`, per section, as added/removed/changed/moved lines
    (no sections when there is no `old`: the first version has nothing to compare with)."""
    if old is None:
        return AgreementDiff(old_number=None, new_number=new.number)
    new_sections = body_sections(AgreementBody.model_validate(new.body))
    old_sections = {s.key: s for s in body_sections(AgreementBody.model_validate(old.body))}
    diffs = []
    header = _changes(_header_lines(old), _header_lines(new))
    if header:
        diffs.append(SectionDiff("title", "Title and preamble", tuple(header)))
    for section in new_sections:
        before = old_sections.get(section.key)
        changes = _changes(before.lines() if before else [], section.lines())
        if changes:
            diffs.append(SectionDiff(section.key, section.title, tuple(changes)))
    return AgreementDiff(old_number=old.number, new_number=new.number, sections=tuple(diffs))

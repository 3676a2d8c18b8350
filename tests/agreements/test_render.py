"""The agreement in words: sections, Markdown and the diff between versions."""

from __future__ import annotations

import pytest

from leadloop.agreements.diff import Change, agreement_diff
from leadloop.agreements.render import agreement_markdown, agreement_render
from leadloop.agreements.selectors import agreement_in_force
from leadloop.agreements.services import agreement_approve, agreement_draft_create
from tests.accounts.factories import UserFactory
from tests.agreements.factories import body, marketing_ops, sales_manager

pytestmark = pytest.mark.django_db


def _section(rendered, key):
    return next(s for s in rendered.sections if s.key == key)


def _draft(new_body, title="Next"):
    return agreement_draft_create(actor=marketing_ops(), title=title, body=new_body)


def test_the_mql_definition_reads_as_one_sentence():
    rendered = agreement_render(version=agreement_in_force().version)

    assert _section(rendered, "qualification").lines()[0] == (
        "A lead becomes an MQL when fit grade is B or better and engagement is at least 40, "
        "or the predicted probability is at least 25 %; at once on: Demo request, Demo offer, "
        "Price sheet."
    )


def test_routing_rules_read_in_order_with_what_they_match_and_who_gets_the_lead():
    UserFactory(username="ana")
    UserFactory(username="ben")
    routing = body()["routing"]
    routing["rules"] = [
        {"name": "Named accounts", "kind": "named_account"},
        {
            "name": "DACH",
            "kind": "territory",
            "countries": ["DE", "AT", "CH"],
            "reps": [{"username": "ana", "weight": 2}, {"username": "ben"}],
        },
        {"name": "Big", "kind": "company_size", "size_min": 1000, "team": "Sales"},
    ]
    rendered = agreement_render(version=_draft(body(routing=routing)))

    (rules,) = [b for b in _section(rendered, "routing").blocks if getattr(b, "ordered", False)]
    assert rules.items == (
        "Named accounts: a lead whose company already has an owner goes to that owner.",
        "DACH (territory): leads from DE, AT or CH go in turn to ana (weight 2) and ben.",
        "Big (company size): leads of companies with at least 1000 employees go in turn to "
        'the members of team "Sales".',
    )


def test_the_reason_catalogue_is_a_table_with_next_actions():
    rendered = agreement_render(version=agreement_in_force().version)

    (table,) = [b for b in _section(rendered, "reasons").blocks if hasattr(b, "rows")]
    assert table.headers == ("Answer", "Reason", "Code", "Next action")
    assert table.rows[2] == (
        "Reject",
        "No budget",
        "no_budget",
        'Recycle after 90 days (nurture track "value")',
    )
    assert table.rows[5] == ("Reject", "Duplicate", "duplicate", "Merge as duplicate")


def test_a_batched_hand_off_names_the_day_time_and_zone():
    handoff = {"mode": "batched", "weekday": 0, "time": "09:00", "time_zone": "Europe/Berlin"}

    rendered = agreement_render(version=_draft(body(handoff=handoff)))

    assert _section(rendered, "handoff").lines() == [
        "Batched: MQLs are collected and handed to sales every Monday at 09:00 (Europe/Berlin)."
    ]


def test_the_markdown_has_every_section_and_who_approved_it():
    draft = _draft(body(), title="Same rules, signed")
    agreement_approve(version_id=draft.pk, actor=marketing_ops(first_name="Olga", last_name="Ops"))
    agreement_approve(version_id=draft.pk, actor=sales_manager(first_name="Sam", last_name="Sales"))
    draft.refresh_from_db()

    text = agreement_markdown(agreement_render(version=draft))

    assert text.startswith("# Hand-off agreement v2: Same rules, signed\n\nIn force since ")
    assert "- Approved for marketing by Olga Ops on " in text
    assert "- Approved for sales by Sam Sales on " in text
    for heading in (
        "## Qualification: when a lead becomes an MQL",
        "## Routing: who gets an MQL",
        "## SLAs: what each team promises",
        "## Reasons: what follows each answer",
        "## Hand-off",
    ):
        assert f"\n{heading}\n" in text
    assert "| Reject | Bad fit | bad_fit | Disqualify |" in text
    assert (
        "- The owner answers a new MQL (accepts it, or rejects it with a reason) within "
        "16 business hours of assignment." in text
    )


def test_the_diff_lists_changed_added_and_removed_lines_per_section():
    new = body()
    new["qualification"]["groups"][0]["engagement_min"] = 50
    new["slas"]["sales"]["first_response_hours"] = 8
    new["reasons"] = [r for r in new["reasons"] if r["code"] != "student"]
    new["reasons"].append(
        {"code": "partner", "label": "Is a partner", "kind": "reject", "action": "disqualify"}
    )
    old = agreement_in_force().version

    diff = agreement_diff(old=old, new=_draft(new))

    changes = {s.key: list(s.changes) for s in diff.sections}
    assert set(changes) == {"title", "qualification", "slas", "reasons"}
    assert changes["qualification"] == [
        Change(
            "changed",
            "A lead becomes an MQL when fit grade is B or better and engagement is at least 50, "
            "or the predicted probability is at least 25 %; at once on: Demo request, Demo offer, "
            "Price sheet.",
            "A lead becomes an MQL when fit grade is B or better and engagement is at least 40, "
            "or the predicted probability is at least 25 %; at once on: Demo request, Demo offer, "
            "Price sheet.",
        )
    ]
    assert [c.words() for c in changes["slas"]] == [
        "Changed: The owner answers a new MQL (accepts it, or rejects it with a reason) within "
        "16 business hours of assignment. -> The owner answers a new MQL (accepts it, or "
        "rejects it with a reason) within 8 business hours of assignment."
    ]
    assert [c.words() for c in changes["reasons"]] == [
        'Removed: Reject reason "Student or job seeker" (student): disqualify.',
        'Added: Reject reason "Is a partner" (partner): disqualify.',
    ]


def test_a_reordered_routing_rule_shows_as_moved():
    routing = body()["routing"]
    routing["rules"].reverse()

    diff = agreement_diff(old=agreement_in_force().version, new=_draft(body(routing=routing)))

    (section,) = [s for s in diff.sections if s.key == "routing"]
    assert [c.words() for c in section.changes] == [
        'Moved: Everyone (round robin): every lead goes in turn to the members of team "Sales".'
    ]


def test_the_first_version_has_nothing_to_compare_with():
    first = agreement_in_force().version

    diff = agreement_diff(old=None, new=first)

    assert diff.empty
    assert "v1 is the first version: nothing to compare with." in agreement_markdown(
        agreement_render(version=first), diff
    )

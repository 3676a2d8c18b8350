"""The import's fast paths answer exactly as the slow code they replace.

``email_valid`` accepts and rejects what Django's ``validate_email`` does, on generated and
tricky addresses; ``stage_history_rows`` replays a history as lifecycle's
``stage_history_apply`` does (the lead's stamps, every change's columns, the errors), on
generated histories; a batch larger than one query's chunk finds, creates and updates the same
leads.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadloop.leads.models import Lead, Stage
from leadloop.leads.services import EmailInvalid, email_normalize, email_valid
from leadloop.lifecycle.models import StageChange
from leadloop.lifecycle.services import HistoryInvalid, HistoryStep, stage_history_apply
from leadloop.loop.imports import CHANGE_COLUMNS, stage_history_rows, writes
from tests.capture.import_support import run_import

# --- e-mail -------------------------------------------------------------------------------------


def _django_accepts(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


TRICKY = [
    "", "@", "a@", "@b.example", "a@b", "a@b.c", "a@b.co", "a@localhost", "a@LOCALHOST",
    "a@localhost.", "a@b.example.", "a@b..example", "a@.b.example", "a.@b.example",
    ".a@b.example", "a..b@c.example", "a@@b.example", "a@b@c.example", "a b@c.example",
    '"a b"@c.example', '"a\\"b"@c.example', '"a@b"@c.example', '""@c.example',
    "a@-b.example", "a@b-.example", "a@b.-example", "a@b.example-", "a@b_c.example",
    "a@xn--bcher-kva.example", "a@b.xn--p1ai", "a@b.xn--", "a@münchen.de", "ü@b.example",
    "a@b.e1", "a@1.2.3.4", "a@[1.2.3.4]", "a@[1.2.3.256]", "a@[::1]", "a@[IPv6:::1]",
    "a@[::g]", "a@b.example\n", "a\n@b.example", "a@b.example ", " a@b.example",
    "a@b.example\x00", "a+tag@b.example", "a!#$%&'*+/=?^_`{|}~-@b.example", "(a)@b.example",
    "a@" + "b" * 63 + ".example", "a@" + "b" * 64 + ".example", "a@b." + "c" * 63,
    "a@b." + "c" * 64, "x" * 64 + "@b.example", ("x" * 310) + "@b.example",
    ("x" * 311) + "@b.example", "a@" + ".".join(["b"] * 120) + ".example",
    "ANN@ACME.EXAMPLE", "ann@acme.example", "lead.123@company7.example",
]  # fmt: skip


@pytest.mark.parametrize("value", TRICKY)
def test_email_valid_answers_as_validate_email_on_tricky_addresses(value):
    assert email_valid(value) is _django_accepts(value)


_LOCAL = st.text(alphabet="abcXYZ09.+-_!#'\"\\ @()[]:;,<>ü\x01\x7f", max_size=20)
_LABEL = st.text(alphabet="abcXYZ09-_.üé[]:", max_size=15)
_DOMAIN = st.lists(_LABEL, min_size=0, max_size=4).map(".".join) | st.sampled_from(
    ["localhost", "[127.0.0.1]", "[::1]", "[1.2.3]", "b.xn--p1ai", "b.co", "b.c"]
)
_ADDRESSES = (
    st.emails()
    | st.builds(lambda u, d: f"{u}@{d}", _LOCAL, _DOMAIN)
    | st.builds(lambda u, d, tail: f"{u}@{d}{tail}", _LOCAL, _DOMAIN, st.sampled_from("\n. -"))
    | st.text(max_size=40)
)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ADDRESSES)
def test_email_valid_answers_as_validate_email_on_generated_addresses(value):
    assert email_valid(value) is _django_accepts(value)


@settings(max_examples=500, deadline=None)
@given(_ADDRESSES)
def test_email_normalize_accepts_what_validate_email_accepts(value):
    expected = value.strip().lower()
    if _django_accepts(expected):
        assert email_normalize(value) == expected
    else:
        with pytest.raises(EmailInvalid):
            email_normalize(value)


# --- stage histories ----------------------------------------------------------------------------

T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _lead(existing: dict[str, Any] | None) -> Lead:
    if existing is None:
        return Lead(email="new@x.example", created_at=T0)
    return Lead(
        pk=41,
        email="old@x.example",
        created_at=T0,
        stage=existing["stage"],
        stage_changed_at=existing["at"],
        cycle=existing["cycle"],
        mql_first_at=existing["at"] if existing["cycle"] else None,
        lead_first_at=existing["at"],
    )


_EXISTING = st.none() | st.fixed_dictionaries(
    {
        "stage": st.sampled_from(Stage.values).map(Stage),
        "at": st.integers(0, 100).map(lambda h: T0 + timedelta(hours=h)),
        "cycle": st.integers(0, 3),
    }
)
_STEPS = st.lists(
    st.tuples(
        st.sampled_from(Stage.values).map(Stage),
        st.integers(0, 48),  # hours after the previous step
        st.sampled_from([None, 7]),  # actor
        st.sampled_from(["", "import", "rule-x"]),
        st.sampled_from(["", "no_budget"]),
        st.sampled_from(["", "a note"]),
        st.sampled_from([None, 3]),
    ),
    max_size=6,
)


def _history(existing: dict[str, Any] | None, spec: list[tuple[Any, ...]]) -> list[HistoryStep]:
    at = existing["at"] if existing else T0
    steps = []
    for to, hours, actor, rule, reason, note, version in spec:
        at += timedelta(hours=hours)
        steps.append(HistoryStep(to, at, actor, rule, reason, note, version))
    return steps


def _state(lead: Lead) -> dict[str, Any]:
    return {k: v for k, v in lead.__dict__.items() if k != "_state"}


def _change_columns(change: StageChange) -> list[Any]:
    return [getattr(change, name) for name in CHANGE_COLUMNS]


def test_the_change_columns_are_every_column_of_a_stage_change_but_its_id():
    fields = {f.attname for f in StageChange._meta.concrete_fields if not f.primary_key}
    assert set(CHANGE_COLUMNS) == fields


@settings(max_examples=400, deadline=None)
@given(_EXISTING, _STEPS)
def test_stage_history_rows_replay_as_stage_history_apply(existing, spec):
    steps = _history(existing, spec)
    slow, fast = _lead(existing), _lead(existing)

    changes = stage_history_apply(slow, steps, strict=False, now=NOW)
    rows = stage_history_rows(fast, steps, now=NOW)

    assert _state(fast) == _state(slow)
    assert rows == [_change_columns(c) for c in changes]


@pytest.mark.parametrize(
    "bad",
    [
        datetime(2024, 6, 1),  # naive  # noqa: DTZ001
        NOW + timedelta(seconds=1),  # in the future
        T0 - timedelta(days=1),  # before the lead's last change
    ],
)
@pytest.mark.parametrize("existing", [None, {"stage": Stage.MQL, "at": T0, "cycle": 1}])
def test_stage_history_rows_refuse_what_stage_history_apply_refuses(bad, existing):
    steps = [HistoryStep(Stage.LEAD, T0 + timedelta(hours=1)), HistoryStep(Stage.MQL, bad)]
    slow, fast = _lead(existing), _lead(existing)

    with pytest.raises(HistoryInvalid) as expected:
        stage_history_apply(slow, steps, strict=False, now=NOW)
    with pytest.raises(HistoryInvalid) as got:
        stage_history_rows(fast, steps, now=NOW)

    assert (got.value.message, got.value.loc) == (expected.value.message, expected.value.loc)


def test_stage_history_rows_leave_the_lead_as_stage_history_apply_leaves_it_on_error():
    steps = [HistoryStep(Stage.LEAD, T0), HistoryStep(Stage.MQL, T0 + timedelta(days=1))]
    steps.append(HistoryStep(Stage.SQL, T0))
    slow, fast = _lead(None), _lead(None)
    with pytest.raises(HistoryInvalid):
        stage_history_apply(slow, steps, strict=False, now=NOW)
    with pytest.raises(HistoryInvalid):
        stage_history_rows(fast, steps, now=NOW)
    assert _state(fast) == _state(slow)


# --- batches larger than one query --------------------------------------------------------------


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Email", "Id", "First", "Website", "Created"])
        writer.writerows(rows)
    return path


@pytest.mark.django_db
def test_a_batch_larger_than_a_query_chunk_finds_creates_and_updates_every_lead(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(writes, "IN_CHUNK", 4)
    toml = (
        '[fields]\nemail = "Email"\nexternal_id = "Id"\nfirst_name = "First"\n'
        'domain = "Website"\ncreated_at = "Created"\n'
    )
    rows = [
        [f"p{i}@co{i % 7}.example" if i % 3 else "", f"crm-{i}", f"P{i}", "", "2024-01-02"]
        for i in range(40)
    ]
    path = _csv(tmp_path / "a.csv", rows)

    first = run_import(path, "t", toml=toml, batch_rows=25)
    again = run_import(
        _csv(tmp_path / "b.csv", [[*r[:2], f"Q{i}", *r[3:]] for i, r in enumerate(rows)]),
        "t",
        toml=toml,
        batch_rows=25,
    )

    assert (first.created, first.updated, first.rejected) == (40, 0, 0)
    assert (again.created, again.updated, again.rejected) == (0, 40, 0)
    assert Lead.objects.count() == 40
    assert StageChange.objects.count() == 40
    assert sorted(Lead.objects.values_list("first_name", flat=True)) == sorted(
        f"Q{i}" for i in range(40)
    )
    assert Lead.objects.filter(company__domain="co1.example").count() == len(
        [i for i in range(40) if i % 3 and i % 7 == 1]
    )

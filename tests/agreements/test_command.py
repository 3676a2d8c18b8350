"""``leadloop agreement show``: the agreement as Markdown on the command line."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from leadloop.agreements.selectors import agreement_in_force
from tests.agreements.factories import body, in_force

pytestmark = pytest.mark.django_db


def test_show_prints_the_version_in_force(capsys):
    agreement_in_force()
    in_force(body(), title="Signed by both")

    call_command("agreement", "show")

    out = capsys.readouterr().out
    assert out.startswith("# Hand-off agreement v2: Signed by both\n")
    assert "## Changes" not in out


def test_show_an_older_version_with_its_diff(capsys):
    agreement_in_force()
    new = body()
    new["handoff"] = {
        "mode": "batched",
        "weekday": 0,
        "time": "09:00",
        "time_zone": "Europe/Berlin",
    }
    in_force(new, title="Monday hand-off")

    call_command("agreement", "show", "--version", "2", "--diff")

    out = capsys.readouterr().out
    assert "## Changes in v2 since v1\n" in out
    assert (
        "- Changed: Instant: an MQL is handed to sales the moment it qualifies. -> Batched: MQLs "
        "are collected and handed to sales every Monday at 09:00 (Europe/Berlin)."
    ) in out


def test_an_unknown_version_exits_2_naming_the_versions_there_are():
    agreement_in_force()

    with pytest.raises(CommandError) as caught:
        call_command("agreement", "show", "--version", "7")

    assert caught.value.returncode == 2
    assert str(caught.value) == "There is no agreement version 7. Versions: 1."

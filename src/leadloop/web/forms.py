"""Forms of the web UI: they parse and validate input, then hand plain values to a selector or service."""

from __future__ import annotations

import datetime as dt
from typing import cast
from zoneinfo import ZoneInfo

from django import forms

from leadloop.accounts.models import Team, User
from leadloop.accounts.services import SCOPES
from leadloop.leads.models import Stage
from leadloop.leads.selectors import LeadFilters

OWNER_ME = "me"
OWNER_UNOWNED = "unowned"
OWNER_QUEUE = "queue:"  # "queue:<team id>": leads waiting in that team's queue


class LeadFilterForm(forms.Form):
    """The lead list's search and filters; every field is optional."""

    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Name, e-mail or company",
                "autocomplete": "off",
            }
        ),
    )
    stage = forms.ChoiceField(required=False, choices=[("", "Any stage"), *Stage.choices])
    owner = forms.ChoiceField(required=False, label="Owner")
    source = forms.ChoiceField(required=False, label="Source")
    qualifies = forms.ChoiceField(
        required=False,
        label="Qualifies",
        choices=[("", "Either"), ("yes", "Meets the thresholds"), ("no", "Below the thresholds")],
    )
    created_from = forms.DateField(
        required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, label="Created to", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self,
        data: object,
        *,
        owners: list[User],
        sources: list[str],
        tz: ZoneInfo,
        queues: list[Team] | None = None,
    ) -> None:
        super().__init__(data)  # type: ignore[arg-type]
        self.tz = tz
        cast(forms.ChoiceField, self.fields["owner"]).choices = [
            ("", "Anyone"),
            (OWNER_ME, "Me"),
            (OWNER_UNOWNED, "Unowned"),
            ("People", [(str(u.pk), str(u)) for u in owners]),
            ("Queues", [(f"{OWNER_QUEUE}{t.pk}", f"{t.name} queue") for t in queues or ()]),
        ]
        cast(forms.ChoiceField, self.fields["source"]).choices = [
            ("", "Any source"),
            *((s, s) for s in sources),
        ]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("created_from"), cleaned.get("created_to")
        if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
            self.add_error("created_to", "Must be on or after the “Created from” date.")
        return cleaned

    def filters(self, *, viewer: User) -> LeadFilters:
        """The validated input as LeadFilters; dates are whole days in the viewer's zone."""
        data = self.cleaned_data if self.is_valid() else {}
        owner = data.get("owner", "")
        start, end = data.get("created_from"), data.get("created_to")
        return LeadFilters(
            q=data.get("q", "").strip(),
            stage=Stage(data["stage"]) if data.get("stage") else None,
            owner_id=viewer.pk if owner == OWNER_ME else int(owner) if owner.isdigit() else None,
            unowned=owner == OWNER_UNOWNED,
            queue_id=_queue_id(owner),
            qualifies={"yes": True, "no": False}.get(data.get("qualifies", "")),
            source=data.get("source", ""),
            created_from=_midnight(start, self.tz) if start else None,
            created_to=_midnight(end + dt.timedelta(days=1), self.tz) if end else None,
        )

    @property
    def active_count(self) -> int:
        """How many filters besides the search are set, for the "Clear filters" link."""
        if not self.is_valid():
            return 0
        return sum(1 for k, v in self.cleaned_data.items() if k != "q" and v)


def _queue_id(owner: str) -> int | None:
    """The team id of an owner choice "queue:<id>", else None."""
    team_id = owner.removeprefix(OWNER_QUEUE)
    return int(team_id) if owner.startswith(OWNER_QUEUE) and team_id.isdigit() else None


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Name",
        help_text="Where the token is used, e.g. “Website forms” or “Data warehouse sync”.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in SCOPES],
        initial=list(SCOPES),
        widget=forms.CheckboxSelectMultiple,
        label="Scopes",
    )

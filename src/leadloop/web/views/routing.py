"""Routing in the browser: the lead page's assignment panel (history, and reassign by hand
for managers), the routing page (loads against caps, who is away, the rules at work, the
fallback queue) and the out-of-office page.

The lead page includes ``web/routing/_panel.html`` with the context of
``assignment_panel_context(request, lead)``; the reassign form posts to ``lead_assign_view``
with htmx, which answers with the refreshed panel and the header facts (out of band).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from leadloop.accounts.models import Role, Team, User
from leadloop.agreements.selectors import agreement_in_force
from leadloop.common.errors import LeadloopError, NotFound
from leadloop.leads.models import Lead
from leadloop.leads.selectors import lead_get
from leadloop.loop.lifecycle import (  # clocks follow
    lead_reassign,
    out_of_office_end,
    out_of_office_set,
)
from leadloop.routing.selectors import (
    ROUTING_PAGE_ROLES,
    ReassignChoices,
    assignment_history,
    fallback_queue_size,
    handoff_waiting,
    out_of_office_now,
    out_of_office_people,
    out_of_office_visible,
    reassign_choices,
    rep_loads,
    rule_stats,
)
from leadloop.routing.services import handoff_due_at
from leadloop.web.views.common import AuthedRequest, viewer_zone

# --- The lead page's panel ----------------------------------------------------------------------


class AssignForm(forms.Form):
    """Hand the lead to a person ("user:<id>") or a queue ("queue:<id>"), saying why."""

    to = forms.ChoiceField(
        label="Hand to", error_messages={"required": "Choose whom to hand it to."}
    )
    why = forms.CharField(
        max_length=500, strip=True, error_messages={"required": "Say why the lead is reassigned."}
    )

    def __init__(self, data: Any = None, *, choices: ReassignChoices) -> None:
        super().__init__(data, auto_id="assign-%s")
        self.people = {f"user:{u.pk}": u for u in choices.people}
        self.queues = {f"queue:{t.pk}": t for t in choices.queues}
        field = self.fields["to"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [
            ("", "Person or queue"),
            ("People", [(k, _person(u)) for k, u in self.people.items()]),
            ("Queues", [(k, f"{t} queue") for k, t in self.queues.items()]),
        ]

    def target(self) -> tuple[User | None, Team | None]:
        key: str = self.cleaned_data["to"]
        return self.people.get(key), self.queues.get(key)


def _person(user: User) -> str:
    return f"{user} ({user.team})" if user.team_id else str(user)


def assignment_panel_context(request: AuthedRequest, lead: Lead) -> dict[str, Any]:
    """The context of ``web/routing/_panel.html`` (and of its two parts, ``_assignments.html``
    and ``_assign_form.html``) for `lead` as `request.user` sees it: the assignment history
    and, for whoever may reassign the lead, the form."""
    choices = reassign_choices(actor=request.user, lead=lead)
    return {
        "lead": lead,
        "assignments": assignment_history(lead_id=lead.pk),
        "reassign": choices,
        "assign_form": AssignForm(choices=choices) if choices.allowed else None,
        "assign_error": "",
        "assigned": "",
    }


def _wants_partial(request: AuthedRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request  # type: ignore[union-attr]


def _lead_or_404(lead_id: int) -> Lead:
    try:
        return lead_get(lead_id=lead_id)
    except NotFound as e:
        raise Http404(e.message) from e


@login_required
@require_POST
def lead_assign_view(request: AuthedRequest, lead_id: int) -> HttpResponse:
    """Reassign the lead by hand. With htmx: the refreshed panel (errors beside their field)
    and the header's owner; without: back to the lead page with a message."""
    lead = _lead_or_404(lead_id)
    choices = reassign_choices(actor=request.user, lead=lead)
    form = AssignForm(request.POST, choices=choices)
    error = choices.refusal or ""
    done = ""
    if not error and form.is_valid():
        assignee, queue = form.target()
        try:
            # The loop use case: routing's checks, then the clocks and the webhooks follow.
            assignment = lead_reassign(
                lead_id=lead.pk,
                actor=request.user,
                assignee=assignee,
                queue=queue,
                why=form.cleaned_data["why"],
            )
        except LeadloopError as e:
            field = {"assignee": "to", "queue": "to", "why": "why"}.get(
                str(e.loc[0]) if e.loc else ""
            )
            if field:
                form.add_error(field, e.message)
            else:
                error = e.message
        else:
            done = f"Handed to {assignment.assignee or f'the {assignment.queue} queue'}."
            lead = _lead_or_404(lead_id)
    if not _wants_partial(request):
        if done:
            messages.success(request, done)
        else:
            problems = [error] if error else [str(m) for ms in form.errors.values() for m in ms]
            messages.error(request, " ".join(problems))
        return redirect(lead.get_absolute_url())
    context = assignment_panel_context(request, lead)
    if not done:
        context["assign_form"] = form if choices.allowed else None
    context.update(assign_error=error, assigned=done)
    # 200 even for errors: htmx leaves 4xx answers unswapped.
    response = render(request, "web/routing/_assigned.html", context)
    if done:
        response["HX-Trigger"] = "lead-assigned"
    return response


# --- The routing page ---------------------------------------------------------------------------


def _require_routing_viewer(user: User) -> None:
    if not (user.is_superuser or user.role in ROUTING_PAGE_ROLES):
        raise PermissionDenied(
            "The routing page is for sales managers, revenue leaders and admins; set your "
            "own absence under Out of office."
        )


@login_required
@require_GET
def routing_overview(request: AuthedRequest) -> HttpResponse:
    user = request.user
    _require_routing_viewer(user)
    now = timezone.now()
    terms = agreement_in_force()
    routing = terms.body.routing
    teams = list(Team.objects.filter(members__role=Role.SALES_REP).distinct().order_by("name"))
    manager = user.role == Role.SALES_MANAGER and not user.is_superuser
    team: Team | None = None
    if manager:
        team = user.team
    elif request.GET.get("team", "").isdigit():
        team = next((t for t in teams if t.pk == int(request.GET["team"])), None)
    since = now - dt.timedelta(days=7)
    away = out_of_office_now(at=now)
    if team is not None:
        away = away.filter(user__team=team)
    handoff = terms.body.handoff
    rules = rule_stats(agreement=terms, since=since)
    context = {
        "terms": terms,
        "routing": routing,
        "team": team,
        "teams": [] if manager else teams,
        "no_team": manager and team is None,
        "loads": [] if manager and team is None else rep_loads(team=team, at=now, routing=routing),
        "away": list(away),
        "rules": rules,
        "routed_week": sum(r.routed for r in rules),
        "fallback": fallback_queue_size(agreement=terms, since=since),
        "batched": handoff.mode == "batched",
        "waiting": handoff_waiting().count(),
        "next_handoff": (
            handoff_due_at(agreement=terms, after=now) if handoff.mode == "batched" else None
        ),
        "now": now,
    }
    return render(request, "web/routing/overview.html", context)


# --- Out of office ------------------------------------------------------------------------------


class AbsenceForm(forms.Form):
    """An absence in the viewer's local time."""

    user = forms.TypedChoiceField(coerce=int, label="Who")
    starts_at = forms.DateTimeField(
        label="Away from",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    ends_at = forms.DateTimeField(
        label="Back at",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    note = forms.CharField(max_length=200, required=False, strip=True, label="Note")

    def __init__(self, data: Any = None, *, people: list[User], me: User) -> None:
        super().__init__(data, initial={"user": me.pk}, auto_id="away-%s")
        field = self.fields["user"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [(u.pk, "You" if u.pk == me.pk else _person(u)) for u in people]
        self.people = {u.pk: u for u in people}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", f"Must be after the start ({starts:%d %b %Y, %H:%M}).")
        return cleaned


@login_required
@require_http_methods(["GET", "POST"])
def out_of_office_index(request: AuthedRequest) -> HttpResponse:
    """Set an absence (yours; your team's as a manager; anyone's as an admin) and see the
    absences going on or to come."""
    zone = viewer_zone(request.user)
    people = out_of_office_people(actor=request.user)
    form = AbsenceForm(request.POST or None, people=people, me=request.user)
    # Times typed in the form are the viewer's wall-clock times.
    with timezone.override(zone):
        valid = request.method == "POST" and form.is_valid()
    if valid:
        try:
            absence = out_of_office_set(
                actor=request.user,
                user=form.people[form.cleaned_data["user"]],
                starts_at=form.cleaned_data["starts_at"],
                ends_at=form.cleaned_data["ends_at"],
                note=form.cleaned_data["note"],
            )
        except LeadloopError as e:
            field = str(e.loc[0]) if e.loc else None
            form.add_error(field if field in form.fields else None, e.message)
        else:
            local = absence.ends_at.astimezone(zone)
            messages.success(
                request,
                f"{absence.user} is away until {local:%d %b %Y, %H:%M}; routing skips them "
                "meanwhile.",
            )
            return redirect("web:routing_away")
    now = timezone.now()
    return render(
        request,
        "web/routing/away.html",
        {
            "form": form,
            "absences": list(out_of_office_visible(viewer=request.user, at=now)),
            "now": now,
            "many": len(people) > 1,
            "zone": zone.key,
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def out_of_office_end_view(request: AuthedRequest, absence_id: int) -> HttpResponse:
    try:
        absence = out_of_office_end(actor=request.user, out_of_office_id=absence_id)
    except NotFound as e:
        raise Http404(e.message) from e
    except LeadloopError as e:
        messages.error(request, e.message)
    else:
        done = "cancelled" if absence.pk is None else "ended"
        messages.success(request, f"{absence.user}'s absence {done}: routing counts them in again.")
    return redirect("web:routing_away")

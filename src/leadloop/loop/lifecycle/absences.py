"""Absences: routing skips a rep who is out of office, and their SLA clocks follow."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from leadloop.accounts.models import OutOfOffice, User
from leadloop.routing.services import out_of_office_end as routing_out_of_office_end
from leadloop.routing.services import out_of_office_set as routing_out_of_office_set
from leadloop.sla.services import clocks_on_out_of_office


@transaction.atomic
def out_of_office_set(
    *, actor: User, user: User, starts_at: datetime, ends_at: datetime, note: str = ""
) -> OutOfOffice:
    """Record an absence (``routing.out_of_office_set``: routing skips the person), then move
    the due times of their running SLA clocks that pause while they are away."""
    absence = routing_out_of_office_set(
        actor=actor, user=user, starts_at=starts_at, ends_at=ends_at, note=note
    )
    clocks_on_out_of_office(user_id=user.pk)
    return absence


@transaction.atomic
def out_of_office_end(
    *, actor: User, out_of_office_id: int, at: datetime | None = None
) -> OutOfOffice:
    """End (or cancel) an absence (``routing.out_of_office_end``), then recompute the due times
    of the person's paused clocks."""
    absence = routing_out_of_office_end(actor=actor, out_of_office_id=out_of_office_id, at=at)
    clocks_on_out_of_office(user_id=absence.user_id)
    return absence

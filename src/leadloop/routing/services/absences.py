"""Absences: routing skips a rep who is out of office."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from leadloop.accounts.models import OutOfOffice, User
from leadloop.common.errors import LeadloopError, NotFound, PermissionDenied
from leadloop.routing.selectors import out_of_office_refusal


class OutOfOfficeInvalid(LeadloopError):
    code = "out_of_office_invalid"


class OutOfOfficeNotAllowed(PermissionDenied):
    code = "out_of_office_not_allowed"


def _aware(value: datetime, field: str) -> None:
    if timezone.is_naive(value):
        raise OutOfOfficeInvalid(
            f"{field} needs a time zone (an offset such as +01:00, or Z for UTC).", loc=(field,)
        )


@transaction.atomic
def out_of_office_set(
    *, actor: User, user: User, starts_at: datetime, ends_at: datetime, note: str = ""
) -> OutOfOffice:
    """Record that `user` is away from `starts_at` to `ends_at`: routing skips them meanwhile.

    A person sets their own absence, a sales manager their team's, an admin anyone's (else
    OutOfOfficeNotAllowed). Raises OutOfOfficeInvalid naming ends_at when it is not after
    starts_at.
    """
    refusal = out_of_office_refusal(actor=actor, user=user)
    if refusal is not None:
        raise OutOfOfficeNotAllowed(refusal, loc=("user",))
    _aware(starts_at, "starts_at")
    _aware(ends_at, "ends_at")
    if ends_at <= starts_at:
        raise OutOfOfficeInvalid(
            f"ends_at ({ends_at:%Y-%m-%d %H:%M %Z}) must be after starts_at "
            f"({starts_at:%Y-%m-%d %H:%M %Z}).",
            loc=("ends_at",),
        )
    return OutOfOffice.objects.create(
        user=user,
        starts_at=starts_at,
        ends_at=ends_at,
        note=note.strip()[:200],
        created_by=actor,
    )


@transaction.atomic
def out_of_office_end(
    *, actor: User, out_of_office_id: int, at: datetime | None = None
) -> OutOfOffice:
    """End an absence at `at` (now): one going on ends then, one not started yet is
    cancelled (deleted; the returned copy has no pk), one already over is left as it is."""
    absence = (
        OutOfOffice.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(pk=out_of_office_id)
        .first()
    )
    if absence is None:
        raise NotFound(f"No absence with id {out_of_office_id}.", loc=("out_of_office_id",))
    refusal = out_of_office_refusal(actor=actor, user=absence.user)
    if refusal is not None:
        raise OutOfOfficeNotAllowed(refusal, loc=("out_of_office_id",))
    now = at or timezone.now()
    if absence.ends_at <= now:
        return absence
    if absence.starts_at >= now:
        absence.delete()
        return absence
    absence.ends_at = now
    absence.save(update_fields=["ends_at"])
    return absence

"""Leases: at most one holder of a named job at a time, across processes and machines.

The scheduler takes the lease "scheduler" and renews it every few seconds; a second scheduler
waits until the first stops renewing (crashed, killed) and the lease expires.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from leadloop.common.models import Lease


def lease_acquire(*, name: str, holder: str, ttl: timedelta) -> bool:
    """Take or renew the lease `name` for `holder` for `ttl`; True when `holder` holds it now.

    One conditional UPDATE (held by us, or expired) or one INSERT: two processes racing for a
    free lease cannot both win — the database decides.
    """
    now = timezone.now()
    taken = Lease.objects.filter(Q(name=name) & (Q(holder=holder) | Q(expires_at__lte=now))).update(
        holder=holder, expires_at=now + ttl, renewed_at=now
    )
    if taken:
        return True
    try:
        with transaction.atomic():
            Lease.objects.create(name=name, holder=holder, expires_at=now + ttl, renewed_at=now)
    except IntegrityError:
        return False  # another holder has it and it has not expired
    return True


def lease_release(*, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop), so another process may take it."""
    Lease.objects.filter(name=name, holder=holder).delete()

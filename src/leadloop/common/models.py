"""Tables of the shared layer: leases that let one process of many do a job."""

from __future__ import annotations

from django.db import models


class Lease(models.Model):
    """A named lease: while `expires_at` is ahead, only `holder` does the job it guards."""

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    renewed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at:%H:%M:%S}"

"""The report's time zone, its team and its weeks."""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from leadloop.accounts.models import Team, TeamKind, User
from leadloop.common.errors import NotFound
from leadloop.lifecycle.selectors import Period, week_period

# "Up to now" includes a hand-off made at this very instant.
A_MOMENT: Final = dt.timedelta(microseconds=1)


MAX_WEEKS: Final = 52


def report_zone(*, user: User | None, team: Team | None = None) -> ZoneInfo:
    """The zone a report's periods are cut in: the team's when one is chosen, else the viewer's,
    else their team's, else the installation's default (METRICS.md, "Period")."""
    names = [team.time_zone] if team is not None else []
    if user is not None:
        names += [user.time_zone, user.team.time_zone if user.team else ""]
    names.append(settings.LEADLOOP_DEFAULT_TIME_ZONE)
    for name in names:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def team_by_key(*, key: str) -> Team:
    """A team by its id or its name (case-insensitive). Raises NotFound naming the value."""
    key = key.strip()
    found = (
        Team.objects.filter(pk=int(key)).first()
        if key.isdigit()
        else Team.objects.filter(name__iexact=key).first()
    )
    if found is None:
        names = ", ".join(Team.objects.filter(kind=TeamKind.SALES).values_list("name", flat=True))
        raise NotFound(
            f"No team {key!r}; the sales teams are: {names or 'none yet'}.", loc=("team",)
        )
    return found


def weeks_ending(*, now: dt.datetime, tz: ZoneInfo, weeks: int) -> list[Period]:
    """The `weeks` Monday-to-Monday weeks in `tz` up to and including the one containing
    `now`, oldest first."""
    return [week_period(now=now, tz=tz, weeks_back=back) for back in reversed(range(weeks))]

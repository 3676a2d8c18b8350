"""The demo business's own people: a marketing team, two sales teams, a leader and an admin.

Both ``leadloop demo`` and ``leadloop demo_users`` call ``demo_staff_ensure``, in either
order: the "rep" login is one of the reps the generator routes leads to, so the rep's
dashboard shows real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from django.db import transaction

from leadloop.accounts.models import Role, Team, TeamKind, User

DEMO_PASSWORD: Final = "leadloop-demo"
STAFF_EMAIL_DOMAIN: Final = "leadloop.example"
MARKETING: Final = "Marketing"
SALES_EMEA: Final = "Sales EMEA"
SALES_AMERICAS: Final = "Sales Americas"

# name: (kind, time zone, country, subdivision)
TEAMS: Final[dict[str, tuple[TeamKind, str, str, str]]] = {
    MARKETING: (TeamKind.MARKETING, "Europe/Berlin", "DE", "BE"),
    SALES_EMEA: (TeamKind.SALES, "Europe/Berlin", "DE", "BE"),
    SALES_AMERICAS: (TeamKind.SALES, "America/New_York", "US", "NY"),
}


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    role: Role
    team: str | None
    login: bool = False  # one of the documented demo logins


STAFF: Final[tuple[Person, ...]] = (
    Person("marketing", "Mara", "Lindqvist", Role.MARKETING_OPS, MARKETING, login=True),
    Person("tom.okafor", "Tom", "Okafor", Role.MARKETING_OPS, MARKETING),
    Person("ines.duarte", "Inês", "Duarte", Role.MARKETING_OPS, MARKETING),
    Person("manager", "Katrin", "Vogt", Role.SALES_MANAGER, SALES_EMEA, login=True),
    Person("rep", "Jonas", "Becker", Role.SALES_REP, SALES_EMEA, login=True),
    Person("emma.laurent", "Emma", "Laurent", Role.SALES_REP, SALES_EMEA),
    Person("oliver.hughes", "Oliver", "Hughes", Role.SALES_REP, SALES_EMEA),
    Person("sofia.romano", "Sofia", "Romano", Role.SALES_REP, SALES_EMEA),
    Person("pieter.visser", "Pieter", "Visser", Role.SALES_REP, SALES_EMEA),
    Person("david.reyes", "David", "Reyes", Role.SALES_MANAGER, SALES_AMERICAS),
    Person("ashley.carter", "Ashley", "Carter", Role.SALES_REP, SALES_AMERICAS),
    Person("marcus.bell", "Marcus", "Bell", Role.SALES_REP, SALES_AMERICAS),
    Person("priya.natarajan", "Priya", "Natarajan", Role.SALES_REP, SALES_AMERICAS),
    Person("lucas.almeida", "Lucas", "Almeida", Role.SALES_REP, SALES_AMERICAS),
    Person("jenna.walsh", "Jenna", "Walsh", Role.SALES_REP, SALES_AMERICAS),
    Person("leader", "Rachel", "Stone", Role.REVENUE_LEADER, None, login=True),
    Person("admin", "Alex", "Admin", Role.ADMIN, None, login=True),
)


@dataclass(frozen=True)
class Staff:
    """The demo's teams and people, by name."""

    teams: dict[str, Team]
    users: dict[str, User]

    def members(self, team: str, role: Role) -> list[User]:
        return [self.users[p.username] for p in STAFF if p.team == team and p.role == role]


@transaction.atomic
def demo_staff_ensure() -> Staff:
    """Create or update the demo's teams and people (idempotent); passwords are left alone."""
    teams: dict[str, Team] = {}
    for name, (kind, tz, country, subdivision) in TEAMS.items():
        teams[name], _ = Team.objects.update_or_create(
            name=name,
            defaults={
                "kind": kind,
                "time_zone": tz,
                "country": country,
                "subdivision": subdivision,
            },
        )
    users: dict[str, User] = {}
    for person in STAFF:
        user, created = User.objects.update_or_create(
            username=person.username,
            defaults={
                "first_name": person.first_name,
                "last_name": person.last_name,
                "email": f"{person.username}@{STAFF_EMAIL_DOMAIN}",
                "role": person.role,
                "team": teams[person.team] if person.team else None,
                "is_staff": person.role == Role.ADMIN,
                "is_superuser": person.role == Role.ADMIN,
            },
        )
        if created:
            user.set_unusable_password()  # demo_users gives the logins a password
            user.save(update_fields=["password"])
        users[person.username] = user
    return Staff(teams=teams, users=users)


@dataclass(frozen=True)
class Login:
    username: str
    role: Role
    team: str
    name: str


@transaction.atomic
def demo_users_ensure(*, password: str = DEMO_PASSWORD) -> list[Login]:
    """One login per role with `password` (idempotent); returns them in role order."""
    staff = demo_staff_ensure()
    logins: list[Login] = []
    for person in STAFF:
        if not person.login:
            continue
        user = staff.users[person.username]
        user.set_password(password)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
        logins.append(Login(person.username, person.role, person.team or "", user.get_full_name()))
    return logins

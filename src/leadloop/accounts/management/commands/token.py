"""``leadloop token create|list|revoke``: API tokens from the command line.

The key is printed once, by ``create``; only its SHA-256 is stored.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from leadloop.accounts.models import User
from leadloop.accounts.selectors import token_list, token_owner, user_by_username
from leadloop.accounts.services import SCOPES, token_create, token_revoke
from leadloop.common.errors import LeadloopError

# How a token is recognised without its secret.
TOKEN_SHOWN = "ll_{prefix}_…"


class Command(BaseCommand):
    help = "Create, list or revoke API tokens."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        create = actions.add_parser("create", help="Create a token and print its key once.")
        create.add_argument("username", help="The user the token acts as.")
        create.add_argument("--name", default="API token", help="A label, e.g. 'CRM sync'.")
        create.add_argument(
            "--scope",
            dest="scopes",
            action="extend",
            nargs="+",
            choices=SCOPES,
            metavar="SCOPE",
            help=f"Repeatable; one of: {', '.join(SCOPES)}. Default: all of them.",
        )

        listing = actions.add_parser("list", help="List a user's tokens (never their keys).")
        listing.add_argument("username")

        revoke = actions.add_parser("revoke", help="Revoke a token by its id.")
        revoke.add_argument("token_id", type=int, metavar="ID")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "create":
                self._create(options["username"], options["name"], options["scopes"])
            elif options["action"] == "list":
                self._list(options["username"])
            else:
                self._revoke(options["token_id"])
        except LeadloopError as exc:
            raise CommandError(exc.message) from exc

    def _create(self, username: str, name: str, scopes: list[str] | None) -> None:
        user = _user(username)
        issued = token_create(user=user, name=name, scopes=scopes)
        token = issued.token
        self.stdout.write(
            f"Created token {token.pk} {token.name!r} for {user.username} "
            f"with scopes: {', '.join(token.scopes) or 'none'}."
        )
        self.stdout.write("The key is shown only now; only its hash is stored:")
        self.stdout.write(issued.key)

    def _list(self, username: str) -> None:
        user = _user(username)
        tokens = token_list(user=user)
        if not tokens:
            self.stdout.write(f"{user.username} has no API tokens.")
            return
        for token in tokens:
            state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            self.stdout.write(
                f"{token.pk}\t{TOKEN_SHOWN.format(prefix=token.prefix)}\t{token.name}\t"
                f"{','.join(token.scopes)}\tcreated {token.created_at:%Y-%m-%d %H:%M}\t"
                f"last used {used}\t{state}"
            )

    def _revoke(self, token_id: int) -> None:
        owner = token_owner(token_id=token_id)
        if owner is None:
            raise CommandError(f"No API token with id {token_id}.")
        # The command line is the operator's; it may revoke any token, so it acts as the owner.
        token = token_revoke(user=owner, token_id=token_id)
        self.stdout.write(
            f"Revoked token {token.pk} {token.name!r} of {owner.username} "
            f"at {token.revoked_at:%Y-%m-%d %H:%M} UTC."
        )


def _user(username: str) -> User:
    user = user_by_username(username=username)
    if user is None:
        raise CommandError(f"No user named {username!r}.")
    return user

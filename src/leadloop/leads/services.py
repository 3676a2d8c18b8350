"""Use cases of leads and companies.

Identity rules live here: a lead is unique by its normalised e-mail (``email_normalize``), and
the database refuses an e-mail that is not normalised (constraint ``lead_email_normalized``),
so two spellings of one address can never become two leads.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from leadloop.common.errors import LeadloopError


class EmailInvalid(LeadloopError):
    code = "email_invalid"


def email_normalize(value: str, *, loc: tuple[str | int, ...] = ("email",)) -> str:
    """`value` trimmed and lower-cased; raises EmailInvalid naming `loc` when it is no address."""
    email = value.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise EmailInvalid(f"{value!r} is not an e-mail address.", loc=loc) from None
    return email

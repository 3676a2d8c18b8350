from __future__ import annotations

import pytest
from django.db import IntegrityError

from leadloop.leads.services import EmailInvalid, email_normalize
from tests.leads.factories import LeadFactory


def test_email_is_trimmed_and_lower_cased():
    assert email_normalize("  Ada.Lovelace@Example.COM \n") == "ada.lovelace@example.com"


def test_a_value_that_is_no_address_is_refused_naming_the_field():
    with pytest.raises(EmailInvalid, match="'ada at example' is not an e-mail address") as caught:
        email_normalize("ada at example", loc=("rows", 4, "email"))

    assert caught.value.loc == ("rows", 4, "email")


@pytest.mark.django_db
def test_the_database_refuses_an_email_that_is_not_normalized():
    with pytest.raises(IntegrityError):
        LeadFactory(email="Ada@Example.com")


@pytest.mark.django_db
def test_a_lead_needs_an_email_or_an_external_id():
    with pytest.raises(IntegrityError):
        LeadFactory(email=None, external_id=None)

import pytest
from django.urls import reverse

from leadloop.accounts.models import ApiToken
from leadloop.accounts.services import token_authenticate, token_create
from tests.accounts.factories import UserFactory
from tests.web.helpers import text

pytestmark = pytest.mark.django_db


def test_a_new_token_is_shown_once_and_works(client):
    user = UserFactory()
    client.force_login(user)

    created = client.post(
        reverse("web:tokens"), {"name": "Website forms", "scopes": ["touches:write"]}, follow=True
    )
    again = client.get(reverse("web:tokens"))

    token = ApiToken.objects.get(user=user)
    key = text(created).split('id="new-token-key" type="text" readonly value="')[1].split('"')[0]
    assert token_authenticate(key=key) == token
    assert (token.name, token.scopes) == ("Website forms", ["touches:write"])
    assert key not in text(again)
    assert "Website forms" in text(again)


def test_a_token_needs_a_name_and_a_scope(client):
    client.force_login(UserFactory())

    response = client.post(reverse("web:tokens"), {"name": "", "scopes": []})

    assert response.status_code == 400
    assert ApiToken.objects.count() == 0
    assert "This field is required." in text(response)


def test_revoking_a_token_stops_it_working(client):
    user = UserFactory()
    issued = token_create(user=user, name="Old sync")
    client.force_login(user)

    response = client.post(reverse("web:token_revoke", args=[issued.token.pk]), follow=True)

    assert token_authenticate(key=issued.key) is None
    assert "Token “Old sync” revoked" in text(response)
    assert "Revoked" in text(response)


def test_nobody_can_revoke_someone_elses_token(client):
    issued = token_create(user=UserFactory(), name="Theirs")
    client.force_login(UserFactory())

    response = client.post(reverse("web:token_revoke", args=[issued.token.pk]))

    assert response.status_code == 404
    assert token_authenticate(key=issued.key) is not None


def test_revoking_needs_a_post(client):
    user = UserFactory()
    issued = token_create(user=user, name="Sync")
    client.force_login(user)

    response = client.get(reverse("web:token_revoke", args=[issued.token.pk]))

    assert response.status_code == 405

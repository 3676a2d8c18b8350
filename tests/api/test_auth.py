from __future__ import annotations

import pytest
from ninja.testing import TestClient

from leadloop.accounts.models import User
from leadloop.accounts.services import token_create, token_revoke
from tests.accounts.factories import UserFactory
from tests.api.conftest import BearerFactory

pytestmark = pytest.mark.django_db

AUTH_LOC = ["header", "Authorization"]


def test_a_request_without_a_token_is_401_in_the_error_shape(api_client: TestClient) -> None:
    response = api_client.get("/leads")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="leadloop"'
    [error] = response.json()["detail"]
    assert error["loc"] == AUTH_LOC
    assert error["type"] == "not_authenticated"
    assert error["msg"].startswith("Authentication required: send the header 'Authorization:")


def test_a_header_that_is_not_bearer_is_401(api_client: TestClient) -> None:
    response = api_client.get("/leads", headers={"Authorization": "Basic dXNlcjpwYXNz"})

    assert response.status_code == 401
    assert response.json()["detail"] == [
        {
            "loc": AUTH_LOC,
            "msg": "The Authorization header must be 'Bearer <key>'.",
            "type": "not_authenticated",
        }
    ]


def test_an_unknown_key_is_401(api_client: TestClient) -> None:
    response = api_client.get("/leads", headers={"Authorization": "Bearer ll_0000_nope"})

    assert response.status_code == 401
    assert response.json()["detail"] == [
        {
            "loc": AUTH_LOC,
            "msg": "The API token is unknown or has been revoked.",
            "type": "not_authenticated",
        }
    ]


def test_a_revoked_key_is_401(api_client: TestClient) -> None:
    user = UserFactory()
    issued = token_create(user=user, name="old")
    token_revoke(user=user, token_id=issued.token.pk)

    response = api_client.get("/leads", headers={"Authorization": f"Bearer {issued.key}"})

    assert response.status_code == 401
    assert response.json()["detail"][0]["msg"] == "The API token is unknown or has been revoked."


def test_the_key_of_a_deactivated_user_is_401(api_client: TestClient) -> None:
    user = UserFactory()
    issued = token_create(user=user, name="ci")
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = api_client.get("/leads", headers={"Authorization": f"Bearer {issued.key}"})

    assert response.status_code == 401


def test_a_token_without_the_scope_is_403_naming_the_scope(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.get("/leads", headers=bearer("reports:read", "touches:write"))

    assert response.status_code == 403
    [error] = response.json()["detail"]
    assert error["loc"] == AUTH_LOC
    assert error["type"] == "scope_missing"
    assert error["msg"].startswith("This endpoint needs the scope 'leads:read'; token ")
    assert error["msg"].endswith("has: reports:read, touches:write.")


def test_the_detail_endpoint_needs_the_scope_too(
    api_client: TestClient, bearer: BearerFactory
) -> None:
    response = api_client.get("/leads/1", headers=bearer("leads:write"))

    assert response.status_code == 403
    assert "'leads:read'" in response.json()["detail"][0]["msg"]


def test_a_token_with_the_scope_is_let_in(api_client: TestClient, bearer: BearerFactory) -> None:
    response = api_client.get("/leads", headers=bearer("leads:read"))

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


def test_the_api_is_mounted_under_api_v1_with_the_same_auth(client, bearer: BearerFactory) -> None:
    denied = client.get("/api/v1/leads")
    allowed = client.get("/api/v1/leads", headers=bearer("leads:read"))

    assert denied.status_code == 401
    assert denied.json()["detail"][0]["type"] == "not_authenticated"
    assert allowed.status_code == 200

"""Bearer-token authentication with scopes: ``Authorization: Bearer ll_…``.

Each endpoint names the one scope it needs: ``auth=TokenAuth("leads:read")``. A missing,
malformed, unknown or revoked key is a 401; a valid key without the scope is a 403 that names
the scope. Both use the API's one error shape (``api.errors``).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from leadloop.accounts.models import ApiToken
from leadloop.accounts.services import SCOPES, token_authenticate
from leadloop.api.errors import NotAuthenticated
from leadloop.common.errors import PermissionDenied

_LOC = ("header", "Authorization")


class ScopeMissing(PermissionDenied):
    code = "scope_missing"


class TokenAuth(HttpBearer):
    """An API token that carries `scope`; `request.auth` is the ApiToken (with its user)."""

    def __init__(self, scope: str) -> None:
        if scope not in SCOPES:
            raise ValueError(f"Unknown scope {scope!r}; the scopes are: {', '.join(SCOPES)}.")
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> ApiToken:
        header = request.headers.get(self.header, "")
        if not header:
            raise NotAuthenticated(
                "Authentication required: send the header 'Authorization: Bearer <key>' "
                "with an API token (create one with 'leadloop token create USERNAME').",
                loc=_LOC,
            )
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.openapi_scheme or not key.strip():
            raise NotAuthenticated("The Authorization header must be 'Bearer <key>'.", loc=_LOC)
        return self.authenticate(request, key.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        api_token = token_authenticate(key=token)
        if api_token is None:
            raise NotAuthenticated("The API token is unknown or has been revoked.", loc=_LOC)
        if self.scope not in api_token.scopes:
            granted = ", ".join(api_token.scopes) or "none"
            raise ScopeMissing(
                f"This endpoint needs the scope {self.scope!r}; "
                f"token {api_token.prefix}… has: {granted}.",
                loc=_LOC,
            )
        return api_token

"""One error shape for every failure of the API.

Validation errors keep ninja's shape, ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``;
Leadloop's own errors, authentication, permission and "not found" answers use the same shape,
so a client parses one format and always learns which field was wrong.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled

from leadloop.common.errors import LeadloopError


class NotAuthenticated(LeadloopError):
    code = "not_authenticated"
    status = 401


class ErrorItem(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(Schema):
    """The body of every error response."""

    detail: list[ErrorItem]


# The `type` of an error ninja raises itself (it carries a status and a message, no code).
_TYPE_BY_STATUS: Final[dict[int, str]] = {
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    429: "throttled",
}


def error_body(*, loc: tuple[str | int, ...], msg: str, type: str) -> dict[str, Any]:
    """The JSON body of one error: the same shape as ninja's validation errors."""
    return {"detail": [{"loc": list(loc), "msg": msg, "type": type}]}


def _leadloop_error(request: HttpRequest, exc: LeadloopError, *, api: NinjaAPI) -> HttpResponse:
    body = error_body(loc=exc.loc, msg=exc.message, type=exc.code)
    response = api.create_response(request, body, status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="leadloop"'
    return response


def _http_error(request: HttpRequest, exc: HttpError, *, api: NinjaAPI) -> HttpResponse:
    kind = _TYPE_BY_STATUS.get(exc.status_code, "http_error")
    body = error_body(loc=(), msg=exc.message, type=kind)
    response = api.create_response(request, body, status=exc.status_code)
    if isinstance(exc, AuthenticationError):
        response["WWW-Authenticate"] = 'Bearer realm="leadloop"'
    if isinstance(exc, Throttled) and exc.wait is not None:
        response["Retry-After"] = str(int(exc.wait) + 1)
    return response


def _not_found(request: HttpRequest, exc: Http404, *, api: NinjaAPI) -> HttpResponse:
    body = error_body(loc=(), msg=str(exc) or "Not found.", type="not_found")
    return api.create_response(request, body, status=404)


def install_error_handlers(api: NinjaAPI) -> None:
    """Answer every error `api` raises in the one shape (ninja's validation shape is kept)."""
    api.add_exception_handler(LeadloopError, partial(_leadloop_error, api=api))
    api.add_exception_handler(HttpError, partial(_http_error, api=api))
    api.add_exception_handler(Http404, partial(_not_found, api=api))

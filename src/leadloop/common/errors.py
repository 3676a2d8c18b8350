"""The one base class of Leadloop's errors.

Each subclass carries a stable ``code``, an HTTP ``status`` and a human message that says
where (field, row), what was wrong and, when obvious, what to do. The API turns them into one
JSON shape (``{"detail": [{"loc": [...], "msg": ..., "type": code}]}``); the UI shows the
message beside the field or as a banner.
"""

from __future__ import annotations

from typing import ClassVar


class LeadloopError(Exception):
    code: ClassVar[str] = "invalid"
    status: ClassVar[int] = 400

    def __init__(self, message: str, *, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.loc = loc


class NotFound(LeadloopError):
    code = "not_found"
    status = 404


class PermissionDenied(LeadloopError):
    code = "permission_denied"
    status = 403


class Conflict(LeadloopError):
    code = "conflict"
    status = 409

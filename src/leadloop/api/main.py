"""The REST API: one NinjaAPI composing each area's router under /api/v1/.

OpenAPI at ``/api/v1/openapi.json``, interactive docs at ``/api/v1/docs``. The docs page loads
Swagger UI from ninja's own static files (``ninja`` is in INSTALLED_APPS), never from a CDN,
so it works offline.
"""

from ninja import NinjaAPI, Swagger

from leadloop.api.agreement import router as agreement_router
from leadloop.api.capture import router as capture_router
from leadloop.api.errors import install_error_handlers
from leadloop.api.leads import router as leads_router
from leadloop.api.lifecycle import router as lifecycle_router
from leadloop.api.merge import router as merge_router
from leadloop.api.routing import router as routing_router
from leadloop.api.scoring import router as scoring_router
from leadloop.api.sla import router as sla_router

api = NinjaAPI(
    title="Leadloop API",
    version="1",
    description=(
        "Leadloop's REST API. Authenticate with `Authorization: Bearer <key>`; create a key "
        "with `leadloop token create USERNAME --scope leads:read`. Every error has the shape "
        '`{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.'
    ),
    urls_namespace="api",
    # No validator badge: Swagger UI would fetch it from validator.swagger.io.
    docs=Swagger(settings={"persistAuthorization": True, "validatorUrl": None}),
)
install_error_handlers(api)

api.add_router("", leads_router)
api.add_router("", capture_router)
api.add_router("", scoring_router)
api.add_router("", merge_router)
api.add_router("", lifecycle_router)
api.add_router("", agreement_router)
api.add_router("", routing_router)
api.add_router("", sla_router)

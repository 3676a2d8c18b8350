"""The REST API: one NinjaAPI composing each area's router under /api/v1/."""

from ninja import NinjaAPI

api = NinjaAPI(title="Leadloop API", version="1", urls_namespace="api")

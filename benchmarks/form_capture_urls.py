"""URLs of the form_capture benchmark only: Leadloop's own, plus the floor.

The floor is a bare Django view behind the very same middleware and server: it reads the
posted JSON and does one INSERT. It lives here, never in the product.
"""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

FLOOR_TABLE = "bench_floor_hit"


@csrf_exempt
def floor(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FLOOR_TABLE} (email, created_at) VALUES (%s, %s)",
            [body["fields"]["email"], timezone.now().isoformat()],
        )
    return JsonResponse({"ok": True, "redirect": "", "message": "Thanks"})


urlpatterns = [
    path("bench/floor", floor),
    path("", include("leadloop.urls")),
]

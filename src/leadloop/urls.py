"""The project's URLs: the admin, the REST API under /api/v1/, and the web UI."""

from django.contrib import admin
from django.urls import include, path

from leadloop.api.main import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("leadloop.web.urls")),
]

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def test_openapi_lists_the_lead_endpoints_with_bearer_auth(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert {"/api/v1/leads", "/api/v1/leads/{lead_id}"} <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    assert schema["paths"]["/api/v1/leads"]["get"]["security"] == [{"TokenAuth": []}]


def test_openapi_documents_the_error_shape(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()

    responses = schema["paths"]["/api/v1/leads/{lead_id}"]["get"]["responses"]
    assert {"200", "401", "403", "404", "422"} <= set(responses)
    assert responses["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorOut"
    }


def test_docs_page_loads_swagger_from_local_static_files_only(client: Client) -> None:
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    hosts = re.findall(r"(?:https?:)?//[\w.-]+\.\w+", html)
    assert hosts == [], f"the docs page must work offline, but it references {hosts}"
    assert '"validatorUrl": null' in html  # else Swagger UI fetches a badge from swagger.io
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert "ninja/swagger-ui-bundle.js" in assets
    assert "ninja/swagger-ui.css" in assets
    missing = [a for a in assets if finders.find(a) is None]
    assert missing == [], f"add 'ninja' to INSTALLED_APPS: static files not found: {missing}"

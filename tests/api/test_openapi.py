"""GET /api/v1/openapi.json: a valid OpenAPI 3 document, generated from the code."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_the_document_is_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    validate(document)  # raises on any deviation from the OpenAPI 3 schema


def test_every_route_under_the_api_is_documented(app, document):
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api-docs."):
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", f"{{{argument}}}").replace(
                f"<{argument}>", f"{{{argument}}}"
            )
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, (method, rule.rule)


def test_bearer_tokens_are_the_security_scheme(document):
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert {"bearerAuth": []} in document["security"]


def test_errors_are_documented_with_the_real_error_body(document):
    schemas = document["components"]["schemas"]
    error = schemas["Error"]
    assert error["required"] == ["error"]
    detail = schemas[error["properties"]["error"]["$ref"].rsplit("/", 1)[-1]]
    assert {"code", "message", "fields"} <= set(detail["properties"])


def test_me_and_its_update_are_described(document):
    """The request body's schema is the one that validates it."""
    me = document["paths"]["/api/v1/me"]
    assert "get" in me and "patch" in me
    body = me["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/MeUpdate")

"""The schema documents every error answer with the error envelope and types every body
(tests/server/test_schema_fuzz.py checks the answers against a live server)."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from server.openapi import error_statuses

ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _untyped(node: Any, components: dict[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """A free-form object (no properties, no additionalProperties schema, no $ref) anywhere
    in a body's schema."""
    if not isinstance(node, dict):
        return False
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return name not in seen and _untyped(components[name], components, seen | {name})
    if node.get("type") == "object" and not node.get("properties") and not node.get("additionalProperties"):
        return True
    children = [*node.get("properties", {}).values(), node.get("items"), node.get("additionalProperties")]
    children += node.get("allOf", []) + node.get("oneOf", []) + node.get("anyOf", [])
    return any(_untyped(child, components, seen) for child in children if isinstance(child, dict))


def test_every_error_status_an_operation_lists_carries_the_envelope(schema: dict[str, Any]) -> None:
    wrong = []
    for method, path, operation in _operations(schema):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                body = response.get("content", {}).get("application/json", {}).get("schema", {})
                if body.get("$ref") != ENVELOPE_REF:
                    wrong.append(f"{method} {path} {status}")
    assert wrong == []


def test_signed_in_operations_document_401_403_and_throttling(schema: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in _operations(schema):
        security = operation.get("security") or []
        wanted = {"429"}
        if security and {} not in security:
            wanted |= {"401", "403"}
        if any(parameter["in"] == "path" for parameter in operation.get("parameters", [])):
            wanted.add("404")
        if "requestBody" in operation:
            wanted.add("400")
        if wanted - set(operation["responses"]):
            missing.append(f"{method} {path}: {sorted(wanted - set(operation['responses']))}")
    assert missing == []


def test_the_error_rules() -> None:
    signed_in: list[dict[str, list[str]]] = [{"knoxApiToken": []}]
    read_by_id = {"security": signed_in, "parameters": [{"in": "path", "name": "id"}]}
    assert error_statuses(read_by_id, "GET", throttled=True) == ["400", "401", "403", "404", "429"]
    write = {"security": signed_in, "requestBody": {}}
    assert error_statuses(write, "POST", throttled=True) == ["400", "401", "403", "404", "409", "429"]
    page_of_a_list = {"security": signed_in, "parameters": [{"in": "query", "name": "limit"}]}
    assert error_statuses(page_of_a_list, "GET", throttled=False) == ["400", "401", "403"]
    anyone: dict[str, Any] = {"security": [{"knoxApiToken": []}, {}]}
    assert error_statuses(anyone, "GET", throttled=False) == ["401"]
    assert error_statuses({}, "POST", throttled=True) == ["429"]


def test_every_request_and_response_body_is_typed(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    untyped = []
    for method, path, operation in _operations(schema):
        bodies = [("request", operation.get("requestBody", {})), *operation["responses"].items()]
        for label, body in bodies:
            for media_type, content in body.get("content", {}).items():
                if _untyped(content.get("schema"), components):
                    untyped.append(f"{method} {path} {label} {media_type}")
    assert untyped == []


def test_wall_clock_times_are_not_rfc3339_times(schema: dict[str, Any]) -> None:
    program = schema["components"]["schemas"]["Program"]["properties"]["forecast_time"]
    assert "format" not in program
    assert program["pattern"].startswith("^")

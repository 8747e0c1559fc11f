"""The OpenAPI schema's error answers: every operation lists the error statuses it can give,
each with the project's error envelope (server/errors.py), so clients generated from the
schema know every answer's shape. An operation's own ``@extend_schema(responses=...)`` wins
for a status it names."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers

from server.openapi_components import FIELD_ERRORS_REF

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_PAGINATION_PARAMETERS = {"limit", "offset"}
# A wall-clock time, as the API reads and writes them (HH:MM, optionally seconds): the
# standard "time" format means RFC 3339's full-time, which needs a UTC offset.
WALL_CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?$"


@extend_schema_field({"$ref": FIELD_ERRORS_REF})
class FieldErrorsField(serializers.DictField):
    pass


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="What went wrong, for programs: invalid, not_found, slot_taken, ...")
    message = serializers.CharField(help_text="A sentence for people; never echoes a refused value.")
    # DRF's metaclass takes declared fields off the class, so this does not shadow .fields.
    fields = FieldErrorsField(  # type: ignore[assignment]
        help_text="For 400: each invalid field's messages; otherwise empty."
    )


class ErrorEnvelopeSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a malformed, out-of-range or missing value (`fields` says which).",
    "401": "No credentials, or a bad or expired token.",
    "403": "Signed in, but this caller may not do this.",
    "404": "No such object, or one the caller may not see.",
    "409": "The request conflicts with the current state (the `code` says how).",
    "429": "Too many requests; retry after the `Retry-After` header's seconds.",
}


def error_statuses(operation: dict[str, Any], method: str, throttled: bool) -> list[str]:
    """The error statuses an operation can answer, read from what the operation takes and who
    may call it:

    - 400 when it takes a body or any parameter (every parameter is validated);
    - 401 when it authenticates at all (a bad token is refused even where anyone may call);
    - 403 and, for writes, 409 when it needs a signed-in caller (services refuse by role and
      by state);
    - 404 when a path parameter names an object, or when a signed-in caller's body or query
      names one (an unknown or invisible id reads as no such object);
    - 429 when a throttle applies.
    """
    security = operation.get("security") or []
    authenticates = bool(security)
    needs_sign_in = authenticates and {} not in security
    parameters = operation.get("parameters") or []
    statuses = []
    if "requestBody" in operation or parameters:
        statuses.append("400")
    if authenticates:
        statuses.append("401")
    if needs_sign_in:
        statuses.append("403")
    names_objects = "requestBody" in operation or any(
        parameter.get("in") == "query" and parameter.get("name") not in _PAGINATION_PARAMETERS
        for parameter in parameters
    )
    if any(parameter.get("in") == "path" for parameter in parameters) or (needs_sign_in and names_objects):
        statuses.append("404")
    if needs_sign_in and method in _WRITES:
        statuses.append("409")
    if throttled:
        statuses.append("429")
    return statuses


def error_response(status: int, description: str | None = None) -> OpenApiResponse:
    """For an ``@extend_schema(responses=...)`` that names an error the rules above do not
    infer (a read that answers 409, a sign-in that answers 401)."""
    return OpenApiResponse(ErrorEnvelopeSerializer, description=description or ERROR_DESCRIPTIONS[str(status)])


class ErrorEnvelopeAutoSchema(AutoSchema):
    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.TimeField) and isinstance(schema, dict) and schema.get("format") == "time":
            schema = {key: value for key, value in schema.items() if key != "format"}
            schema["pattern"] = WALL_CLOCK_TIME
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        throttled = bool(getattr(self.view, "throttle_classes", None))
        for status in error_statuses(operation, self.method, throttled):
            if status not in responses:
                response = self._get_response_for_code(ErrorEnvelopeSerializer, status)
                response["description"] = ERROR_DESCRIPTIONS[status]
                responses[status] = response
        operation["responses"] = dict(sorted(responses.items()))
        return operation

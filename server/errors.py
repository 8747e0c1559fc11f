"""One error shape everywhere: ``{"error": {"code", "message", "fields"}}`` (CONTRACT.md)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

# DRF's default codes renamed where the contract's vocabulary is plainer.
_CODE_BY_STATUS = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "server_error",
}


class NamedError(exceptions.APIException):
    """An error whose code tells the client what to do next (``otp_required``: ask for the
    code and send it again); the envelope keeps that code instead of the status's."""


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail: Any) -> Any:
    """ErrorDetail trees -> plain lists of strings, keyed like the input."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        flat: list[Any] = []
        for item in detail:
            value = _flatten(item)
            flat.extend(value if isinstance(value, list) else [value])
        return flat
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError; render it like a serializer's.
        exc = exceptions.ValidationError(as_serializer_error(exc))
    response = exception_handler(exc, context)
    if response is None:
        return None  # unexpected exceptions become a 500 through handler500
    assert isinstance(exc, exceptions.APIException)
    status_code = response.status_code
    code = _CODE_BY_STATUS.get(status_code, "error")
    fields: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = _flatten(exc.detail)
        if isinstance(detail, dict):
            non_field = detail.pop("non_field_errors", None)
            fields = detail
            message = non_field[0] if non_field else "Some fields are invalid."
        else:
            message = detail[0] if detail else "Invalid input."
    else:
        detail = exc.detail
        message = str(detail) if not isinstance(detail, (list, dict)) else str(_flatten(detail))
        # A conflict (Conflict("...", code="slot_taken")) or a NamedError names itself;
        # others use the status.
        if status_code == 409 or isinstance(exc, NamedError):
            code = str(getattr(detail, "code", None) or code)
    response.data = error_body(code, message, fields)
    return response


def _json_error(status_code: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(_CODE_BY_STATUS[status_code], message), status=status_code)


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(400, "Bad request.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(403, "You are not allowed to do this.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _json_error(404, "Not found.")


def handler500(request: HttpRequest) -> JsonResponse:
    return _json_error(500, "Something went wrong on our side. It has been logged.")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    return _json_error(403, "CSRF check failed.")

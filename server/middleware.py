"""Request context (request id, client IP) for the audit log, and cache headers."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from server.client_address import client_ip
from server.metrics import count_request


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None


_current: ContextVar[RequestContext | None] = ContextVar("iop_request_context", default=None)
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_context() -> RequestContext | None:
    return _current.get()


def bind_request_context(context: RequestContext | None) -> object:
    """For non-HTTP entry points (websockets, tasks) that want their writes attributed."""
    return _current.set(context)


def reset_request_context(token: object) -> None:
    """Undo the bind_request_context that returned ``token``."""
    _current.reset(token)  # type: ignore[arg-type]


class RequestContextMiddleware:
    """Gives each request an id (a caller's X-Request-ID if well formed) and records the IP."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _REQUEST_ID_RE.match(supplied) else uuid.uuid4().hex
        token = _current.set(RequestContext(request_id=request_id, ip=client_ip(request)))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response


class NoStoreMiddleware:
    """Health data must never sit in a shared or browser cache: API and authenticated
    responses are marked ``no-store``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            request.path.startswith("/api/")
            or "HTTP_AUTHORIZATION" in request.META
            or (user is not None and user.is_authenticated)
        ):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return response


access_logger = logging.getLogger("iop.access")


class AccessLogMiddleware:
    """One line per request with the matched URL *pattern*, never the concrete path or
    query string: those can carry secrets (calendar feed tokens, tickets) and record ids.
    The same pattern labels the request in /metrics."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = f"/{match.route}" if match is not None and match.route else "<unmatched>"
        count_request(request.method or "", route, response.status_code)
        context = current_request_context()
        access_logger.info(
            "%s %s %s %.1fms request_id=%s",
            request.method,
            route,
            response.status_code,
            (time.perf_counter() - started) * 1000,
            context.request_id if context else "-",
        )
        return response

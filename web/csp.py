"""A strict Content-Security-Policy on every page the product serves (Django 5.2 has no
built-in one). Scripts and styles come only from our own static files: no inline script,
no inline style, no eval. The only exception is the Swagger UI at /api/docs/, whose page
is drf-spectacular's and runs an inline script."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

# Paths whose pages are third-party templates with inline scripts.
CSP_EXEMPT_PREFIXES = ("/api/docs/",)


def content_security_policy(request: HttpRequest) -> str:
    # Websockets go to this host only (CSP2 browsers do not count ws: as 'self').
    try:
        socket_origin = f" {'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    except DisallowedHost:  # the 400 page for a host we do not serve
        socket_origin = ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            # Video tiles show camera streams (srcObject), which CSP counts as mediastream:/blob:.
            "media-src 'self' blob: mediastream:",
            f"connect-src 'self'{socket_origin}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(CSP_EXEMPT_PREFIXES) and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(request)
        return response

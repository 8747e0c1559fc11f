"""The client's address, derived one way for everything that keys on it: the login
lock-out (django-axes), the API throttles and the audit log's ``ip``.

Behind TRUSTED_PROXY_COUNT proxies, REMOTE_ADDR is the nearest proxy and each proxy
appends the address it was reached from to X-Forwarded-For, so the client is the entry
that many places from the right; whatever stands left of it the client may have written
itself. With no trusted proxy the header is ignored entirely: anyone can send one.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning
from django.http import HttpRequest
from rest_framework import throttling


def client_ip(request: HttpRequest) -> str | None:
    remote: str | None = request.META.get("REMOTE_ADDR") or None
    proxies: int = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies == 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    if len(hops) < proxies:
        # Fewer hops than proxies: the request did not come through them all, so no entry
        # can be trusted to have been written by one.
        return remote
    candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # Not an address: the proxy count is wrong for this deployment. The peer's address
        # is the only one known to be real.
        return remote


class _ClientAddressIdent:
    def get_ident(self, request: Any) -> str:
        return client_ip(request) or ""


class UserRateThrottle(_ClientAddressIdent, throttling.UserRateThrottle):
    """DRF's per-user limit; requests without a user are counted per client address."""


class AnonRateThrottle(_ClientAddressIdent, throttling.AnonRateThrottle):
    """DRF's per-address limit for unauthenticated requests, per client address."""


@register(Tags.security, deploy=True)
def check_trusted_proxies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`check --deploy`: behind a TLS proxy with no trusted proxy counted, every client has
    the proxy's address, and one client's failed logins lock out everyone."""
    if settings.SECURE_PROXY_SSL_HEADER and settings.TRUSTED_PROXY_COUNT == 0:
        return [
            CheckWarning(
                "BEHIND_TLS_PROXY=1 with TRUSTED_PROXY_COUNT=0: every client has the proxy's address "
                "(one client's failed logins lock out everyone).",
                hint="Set TRUSTED_PROXY_COUNT to the number of proxies that append to X-Forwarded-For.",
                id="iop.W001",
            )
        ]
    return []

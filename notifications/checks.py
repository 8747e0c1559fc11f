"""`check --deploy`: the links in emails and calendar events must reach the deployment."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Warning as CheckWarning
from django.http.request import validate_host

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@register(Tags.security, deploy=True)
def check_public_base_url(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    parts = urlsplit(settings.PUBLIC_BASE_URL)
    host = parts.hostname or ""
    problems = []
    if host in LOOPBACK:
        problems.append("it points at this machine")
    elif not validate_host(host, settings.ALLOWED_HOSTS):
        problems.append("its host is not in ALLOWED_HOSTS")
    if settings.HTTPS_ONLY and parts.scheme != "https":
        problems.append("it is not https")
    if not problems:
        return []
    return [
        CheckWarning(
            f"PUBLIC_BASE_URL={settings.PUBLIC_BASE_URL}: {' and '.join(problems)}, so links in emails fail.",
            hint="Set PUBLIC_BASE_URL to the address people reach this deployment at, e.g. https://host.",
            id="iop.W002",
        )
    ]

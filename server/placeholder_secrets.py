"""`check --deploy`: no secret may still hold the example file's placeholder.

deploy/production.env.example ships "replace-me" values so that compose starts; a deployer
who copies it without editing would run with secrets anyone can read in this repository.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks import Error as CheckError

PLACEHOLDER = "replace-me"


def _secrets() -> dict[str, str]:
    database = settings.DATABASES["default"]
    return {
        "SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL (its password)": str(database.get("PASSWORD") or ""),
        "TURN_SECRET": settings.TURN_SECRET,
        "LIVEKIT_API_SECRET": settings.LIVEKIT_API_SECRET,
        "METRICS_TOKEN": settings.METRICS_TOKEN,
        "EMAIL_HOST_PASSWORD": str(getattr(settings, "EMAIL_HOST_PASSWORD", "") or ""),
    }


@register(Tags.security, deploy=True)
def check_no_placeholder_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    # Names only: a check's output must never carry a secret's value.
    left = [name for name, value in _secrets().items() if PLACEHOLDER in value.lower()]
    if not left:
        return []
    return [
        CheckError(
            f"{', '.join(left)} still hold the example's placeholder ({PLACEHOLDER!r}).",
            hint="Set each to a long random value in deploy/production.env.",
            id="iop.E001",
        )
    ]

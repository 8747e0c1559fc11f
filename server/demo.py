"""The demo data steps `manage.py seed_demo` runs, in order. Each is idempotent.

Demo data includes staff accounts (admin `ada` is a superuser) whose password is
published, so it is refused under production settings unless DEMO=1 says this
deployment is a demo (`make run` and compose's `demo` profile set it)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Later apps add their step here (programs, groups, sessions, bookings).
SEED_STEPS = [
    "accounts.demo.seed",
    "programs.demo.seed",
    "programs.demo_attendance.seed",
    "bookings.demo.seed",
    "measures.demo.seed",
]


class DemoRefused(ImproperlyConfigured):
    """Demo data was asked for where it must not exist."""


def production_settings() -> bool:
    return not settings.DEBUG and bool(settings.HTTPS_ONLY)


def ensure_demo_allowed() -> None:
    """Raises DemoRefused under production settings (DEBUG=0, HTTPS_ONLY=1) without DEMO=1."""
    if production_settings() and not settings.DEMO:
        raise DemoRefused(
            "Refusing to seed demo data: these are production settings (DEBUG=0, HTTPS_ONLY=1) and the "
            "demo accounts' password is published. Set DEMO=1 only on a demo deployment."
        )


def run_seed_steps() -> dict[str, Any]:
    ensure_demo_allowed()
    results: dict[str, Any] = {}
    for dotted in SEED_STEPS:
        module_name, func_name = dotted.rsplit(".", 1)
        results[dotted] = getattr(import_module(module_name), func_name)()
    return results

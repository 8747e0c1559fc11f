"""The demo data steps `manage.py seed_demo` runs, in order. Each is idempotent."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Later apps add their step here (programs, groups, sessions, bookings).
SEED_STEPS = ["accounts.demo.seed", "programs.demo.seed"]


def run_seed_steps() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for dotted in SEED_STEPS:
        module_name, func_name = dotted.rsplit(".", 1)
        results[dotted] = getattr(import_module(module_name), func_name)()
    return results

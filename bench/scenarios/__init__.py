"""Registered benchmark scenarios. Each module defines a Scenario and appends it here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: Callable[..., dict[str, Any]]


SCENARIOS: list[Scenario] = []

"""The Scenario record and the registry the scenario modules append to."""

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


def register(scenario: Scenario) -> Scenario:
    SCENARIOS.append(scenario)
    return scenario

"""Registered benchmark scenarios. Each module defines a Scenario and registers it in
SCENARIOS (bench/scenarios/base.py); importing this package imports them in run order."""

from __future__ import annotations

# Imported for their side effect: each registers its scenario, in this order.
from bench.scenarios import s1_echo, s2_rooms, s3_fanout, s8_attendance  # noqa: F401
from bench.scenarios.base import SCENARIOS, Scenario, register

__all__ = ["SCENARIOS", "Scenario", "register"]

"""The S2 peak search (bench/scenarios/s2_rooms.py), against a simulated server: a rate
passes a short step up to one limit and holds a long one only up to a lower limit, as a
server with a slowly growing backlog does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from bench.load import ChatResult, Latency, LoadPool
from bench.scenarios.s2_rooms import CONFIRM_FACTOR, FULL, find_peak, low_rate


@dataclass
class SimulatedServer:
    short_limit: float  # the highest rate a 4 s step passes
    held_limit: float  # the highest rate it keeps up with for good
    offered: list[tuple[float, float]] = field(default_factory=list)

    def chat(self, rate: float, seconds: float, max_drain: float = 0.0) -> ChatResult:
        self.offered.append((rate, seconds))
        limit = self.short_limit if seconds <= FULL.step_seconds else self.held_limit
        latency_us = 5_000 if rate <= limit else 2_000_000
        return ChatResult(
            rate=rate, seconds=seconds, sent=int(rate * seconds), expected=10, delivered=10, duplicates=0,
            seq_duplicates=0, out_of_order=0, stale=0, latency=Latency([latency_us] * 100), send_lag=Latency([0]),
            errors={}, closed=0, sockets_open=2000, generator_cpu_s=0.0,
        )  # fmt: skip

    def settle(self, quiet: float, limit: float) -> None:
        pass


def search(server: SimulatedServer, start: float) -> float | None:
    return find_peak(cast(LoadPool, server), start, FULL).peak_rate


def test_the_peak_is_a_rate_held_long_not_one_that_only_passed_a_short_step() -> None:
    server = SimulatedServer(short_limit=1300, held_limit=900)
    peak = search(server, start=25)
    assert peak is not None and peak <= 900
    assert (peak, FULL.step_seconds * CONFIRM_FACTOR) in server.offered


def test_a_search_starting_above_what_holds_steps_down_until_a_rate_holds() -> None:
    # The baseline's search starts at the project's peak: it passed 4 s there and did not
    # hold 16 s (a bench run reported no peak at all for it).
    server = SimulatedServer(short_limit=1700, held_limit=1000)
    peak = search(server, start=1600)
    assert peak is not None and 800 <= peak <= 1000


def test_a_search_starting_above_every_short_step_still_finds_a_peak() -> None:
    server = SimulatedServer(short_limit=500, held_limit=450)
    peak = search(server, start=1600)
    assert peak is not None and peak <= 450


def test_the_below_both_peaks_reference_runs_only_when_the_baseline_peaks_lower() -> None:
    # Half the project's peak would load a baseline that peaks lower near its own limit.
    assert low_rate(1600, 1200) == 600
    # Otherwise the half-peak rate is already below both peaks, and so are not measured.
    assert low_rate(1200, 1200) is None
    assert low_rate(1200, 1600) is None
    assert low_rate(None, 1200) is None
    assert low_rate(1600, None) is None

"""Helpers the scenarios share: socket specs for rooms, server CPU sampling, and the
windows an open-loop phase is measured in."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from bench.fixtures import Room
from bench.load import Latency, SocketSpec
from bench.servers import ServerProcess


class Window(Protocol):
    latency: Latency
    errors: dict[str, int]


W = TypeVar("W", bound=Window)


def median_p99_window(windows: Sequence[W]) -> W | None:
    """The window with the median p99: on a shared 2-core machine one window's p99 is
    often set by a burst of outside noise, and the median window is the steadier figure."""
    if not windows:
        return None
    return sorted(windows, key=lambda window: window.latency.ms(99) or 0.0)[len(windows) // 2]


def error_counts(results: Iterable[Window]) -> dict[str, int]:
    """Error frames and close codes, summed over several measured stretches."""
    counts: Counter[str] = Counter()
    for result in results:
        counts.update(result.errors)
    return dict(counts)


def room_specs(rooms: Sequence[Room], servers: Sequence[ServerProcess], *, project: bool) -> list[SocketSpec]:
    """One socket per roster member, at ``/ws/sessions/<id>/``; the members of each room
    alternate over ``servers``. Rooms are interleaved (member 0 of every room, then member
    1, ...) so that round-robin senders and round-robin worker shares cover every room."""
    specs: list[SocketSpec] = []
    size = max((len(room.user_ids) for room in rooms), default=0)
    for member in range(size):
        for room in rooms:
            if member >= len(room.user_ids):
                continue
            server = servers[member % len(servers)]
            specs.append(
                SocketSpec(
                    url=server.ws_url(f"/ws/sessions/{room.session_id}/"),
                    origin=server.origin,
                    room=str(room.session_id),
                    user_id=room.user_ids[member],
                    ticket=project,
                )
            )
    return specs


@dataclass
class CpuMeter:
    """CPU seconds the given server processes used over a stretch of wall time."""

    servers: Sequence[ServerProcess]
    cpu0: float = 0.0
    wall0: float = 0.0
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def __enter__(self) -> CpuMeter:
        self.cpu0 = sum(server.cpu_seconds() for server in self.servers)
        self.wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu_s = sum(server.cpu_seconds() for server in self.servers) - self.cpu0
        self.wall_s = time.perf_counter() - self.wall0

    @property
    def percent(self) -> float:
        """Utilisation in percent of one core (200 = two cores busy)."""
        return round(100 * self.cpu_s / self.wall_s, 1) if self.wall_s else 0.0

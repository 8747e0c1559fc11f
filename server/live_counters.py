"""Per-process counters of the websocket frame path, read by /metrics at scrape time.

Plain integers on one object: the frame path adds to them on its event loop (no I/O, no
lock, O(1) a frame); server/metrics.py reads them when Prometheus scrapes. A web process
runs one event loop, so its sockets, rooms and frames are all counted here.
"""

from __future__ import annotations


class LiveCounters:
    __slots__ = ("chat_lines", "frames_in", "frames_out", "open_rooms", "open_sockets")

    def __init__(self) -> None:
        self.frames_in = 0
        self.frames_out = 0
        self.chat_lines = 0
        self.open_sockets = 0
        self.open_rooms = 0


LIVE = LiveCounters()

"""FrameGate, the per-socket frame limits every websocket consumer applies (DESIGN.md)."""

from __future__ import annotations

import pytest

from server import ws
from server.ws import FrameError, FrameGate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ws.time, "monotonic", clock)
    return clock


def code_of(gate: FrameGate, text: str | None, data: bytes | None = None) -> str | None:
    try:
        gate.parse(text, data)
    except FrameError as error:
        return error.code
    return None


def test_the_frame_past_the_limit_within_a_minute_is_refused(clock: Clock) -> None:
    gate = FrameGate(per_minute=5)
    for _ in range(5):
        assert code_of(gate, '{"type": "ping"}') is None
        clock.now += 1
    assert code_of(gate, '{"type": "ping"}') == "rate_limited"


def test_frames_older_than_a_minute_no_longer_count(clock: Clock) -> None:
    gate = FrameGate(per_minute=3)
    for _ in range(3):
        assert code_of(gate, '{"type": "ping"}') is None
    clock.now += 60  # exactly a minute: still within it
    assert code_of(gate, '{"type": "ping"}') == "rate_limited"
    clock.now += 0.001
    # The first three are past the minute; the refused one still counts.
    assert code_of(gate, '{"type": "ping"}') is None
    assert code_of(gate, '{"type": "ping"}') is None
    assert code_of(gate, '{"type": "ping"}') == "rate_limited"


def test_refusals_past_the_abuse_limit_within_a_minute_ask_for_a_close(clock: Clock) -> None:
    gate = FrameGate(abuse_limit=3)
    assert [gate.refused() for _ in range(4)] == [False, False, False, True]
    clock.now += 61
    assert gate.refused() is False


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"type":"' + "x" * (1024 - 11) + '"}', None),  # exactly 1 KiB
        ('{"type":"' + "x" * (1024 - 10) + '"}', "too_large"),  # one byte more
        # Counted in UTF-8 bytes, not characters: 265 characters, 1,024 bytes (fits) ...
        ('{"type":"' + "\N{GRINNING FACE}" * 253 + "x" + '"}', None),
        # ... and 266 characters, 1,025 bytes (too large), though short as a string.
        ('{"type":"' + "\N{GRINNING FACE}" * 253 + "xx" + '"}', "too_large"),
        ("é" * 300, "malformed"),  # 300 characters that might be 1,200 bytes, are 600: fits
    ],
)
def test_the_size_limit_counts_utf8_bytes(text: str, code: str | None) -> None:
    assert code_of(FrameGate(max_bytes=1024), text) == code


@pytest.mark.parametrize(
    ("text", "data", "code"),
    [
        (None, b"\x00\x01", "binary_not_supported"),
        ("{not json", None, "malformed"),
        ("[1, 2]", None, "malformed"),
        ('{"type": 5}', None, "malformed"),
        ('{"kind": "ping"}', None, "malformed"),
        ('{"type": "ping"}', None, None),
    ],
)
def test_a_frame_is_a_json_object_with_a_string_type(text: str | None, data: bytes | None, code: str | None) -> None:
    assert code_of(FrameGate(), text, data) == code

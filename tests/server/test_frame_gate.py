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


# --- The signaling budget: a room's rtc.* frames count apart from the rest ---------------

SIGNALING = frozenset({"rtc.offer", "rtc.answer", "rtc.ice"})
ICE = '{"type": "rtc.ice", "to": 2, "candidate": {"candidate": "candidate:1 1 UDP 2122 10.0.0.1 5000 typ host"}}'
CHAT = '{"type": "chat.send", "text": "hi", "client_id": "c1"}'


def test_the_defaults_come_from_settings(settings) -> None:
    assert (settings.WS_FRAMES_PER_MINUTE, settings.WS_SIGNALING_FRAMES_PER_MINUTE) == (100, 300)
    settings.WS_SIGNALING_FRAMES_PER_MINUTE = 7
    gate = FrameGate()
    assert (gate.per_minute, gate.signaling_per_minute, gate.signaling_types) == (100, 7, frozenset())


def test_a_burst_of_signaling_passes_and_leaves_the_general_budget_whole(clock: Clock) -> None:
    gate = FrameGate(per_minute=50, signaling_per_minute=300, signaling_types=SIGNALING)
    # A newcomer to a full mesh: 60 candidates at once, more than the general budget.
    assert [code_of(gate, ICE) for _ in range(60)] == [None] * 60
    # Chat keeps its whole budget, and past it 60 more lines are refused as before.
    assert [code_of(gate, CHAT) for _ in range(50)] == [None] * 50
    assert [code_of(gate, CHAT) for _ in range(60)] == ["rate_limited"] * 60
    # Signaling still has its own budget left.
    assert code_of(gate, '{"type": "rtc.offer"}') is None


def test_the_signaling_budget_is_enforced(clock: Clock) -> None:
    gate = FrameGate(per_minute=100, signaling_per_minute=5, signaling_types=SIGNALING)
    for kind in ["rtc.offer", "rtc.answer", "rtc.ice", "rtc.ice", "rtc.ice"]:
        assert code_of(gate, f'{{"type": "{kind}"}}') is None
    try:
        gate.parse('{"type": "rtc.ice"}', None)
    except FrameError as error:
        assert (error.code, error.message) == ("rate_limited", "At most 5 signaling frames a minute.")
    else:
        raise AssertionError("the sixth signaling frame passed")
    assert code_of(gate, '{"type": "ping"}') is None  # the general budget is untouched
    clock.now += 60.001
    assert code_of(gate, '{"type": "rtc.ice"}') is None


def test_without_signaling_types_rtc_frames_count_as_any_other(clock: Clock) -> None:
    # The notification feed's gate: no frame of its own budget.
    gate = FrameGate(per_minute=3, signaling_per_minute=300)
    assert [code_of(gate, ICE) for _ in range(4)] == [None, None, None, "rate_limited"]


def test_only_the_named_types_use_the_signaling_budget(clock: Clock) -> None:
    gate = FrameGate(per_minute=2, signaling_per_minute=300, signaling_types=SIGNALING)
    assert [code_of(gate, '{"type": "rtc.bogus"}') for _ in range(3)] == [None, None, "rate_limited"]


@pytest.mark.parametrize(
    ("text", "data"),
    [(None, b"\x00"), ("{not json", None), ('{"type": 5}', None), ('{"type":"' + "x" * 2000 + '"}', None)],
)
def test_frames_that_are_not_valid_count_toward_the_general_budget(
    clock: Clock, text: str | None, data: bytes | None
) -> None:
    gate = FrameGate(max_bytes=1024, per_minute=2, signaling_per_minute=300, signaling_types=SIGNALING)
    assert code_of(gate, text, data) not in (None, "rate_limited")
    assert code_of(gate, '{"type": "ping"}') is None
    assert code_of(gate, text, data) == "rate_limited"
    assert code_of(gate, '{"type": "rtc.ice"}') is None  # signaling has its own

"""The web process's server set-up (server/serve.py, server/daphne_tuning.py): Daphne's
reactor on uvloop, and TCP writes sent at once instead of on the next loop pass, with
nothing lost, reordered or raised when the kernel takes only part of a write or the peer
has gone; and a room broadcast framed once for every local socket (server/ws.py)."""

from __future__ import annotations

import functools
import itertools
import json
import subprocess
import sys
from typing import Any

from autobahn.websocket.xormasker import create_xor_masker
from hypothesis import given, settings
from hypothesis import strategies as st

from server.daphne_tuning import Unmasker
from server.embedded import BASE_DIR


@functools.cache
def _probe(module: str) -> dict[str, Any]:
    """Run a probe module in its own process (each installs a Twisted reactor); its report,
    run once per test session however many tests read it."""
    result = subprocess.run(
        [sys.executable, "-m", module], cwd=BASE_DIR, capture_output=True, text=True, timeout=60, check=True
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_writes_go_out_at_once_in_order_and_failures_reach_the_reactor() -> None:
    report = _probe("tests.server.eager_write_probe")
    assert report["uvloop"] is True
    # A small write is on the wire before write() returns: no writer registration.
    assert report["small_write_waited_for_the_loop"] is False
    # What the kernel did not take is left to Twisted's buffered path ...
    assert report["big_write_left_a_remainder"] is True
    # ... and arrives whole, with a later small write kept behind it.
    assert report["bytes_in_order"] is True, report
    # Writing to a connection whose peer closed neither raises nor hides the loss.
    assert report["write_after_peer_closed_raised"] is False
    assert report["connection_lost_reported"] is True


def test_reads_run_without_a_log_context_and_a_failing_read_still_drops_its_connection() -> None:
    report = _probe("tests.server.eager_write_probe")
    assert report["read_log_context"] == "-"  # Twisted's default, not the connection's prefix
    assert report["failing_read_dropped_the_connection"] is True


def test_frames_go_to_the_open_connection_as_autobahn_frames_them_and_closing_sockets_take_the_asgi_send() -> None:
    report = _probe("tests.server.prepared_frame_probe")
    assert report["found_the_protocol"] is True
    assert report["other_send_has_none"] is True
    # 7-, 16- and 64-bit payload lengths, each sent twice from one prepared frame.
    assert report["bytes_as_autobahn_frames_them"] == [True, True, True]
    assert report["text_sent_as_autobahn_frames_it"] is True
    assert report["closing_takes_the_asgi_send"] is True
    assert report["closing_wrote_nothing"] is True
    # Masked client frames, whole and split byte by byte, read back through the unmasker.
    assert report["masked_frames_read_back"] is True


def test_a_message_skips_autobahns_event_only_when_nothing_listens() -> None:
    report = _probe("tests.server.prepared_frame_probe")
    assert report["message_without_listener_delivered"] is True
    assert report["event_fired_without_listener"] is False
    # A listener registered with protocol.on("message", ...) still hears every message.
    assert report["message_with_listener_delivered"] is True
    assert report["listener_heard"] is True


@settings(max_examples=300, deadline=None)
@given(mask=st.binary(min_size=4, max_size=4), payload=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300)))
def test_unmasker_matches_autobahn_for_payloads_split_anywhere(mask: bytes, payload: bytes, cuts: list[int]) -> None:
    ours, autobahns = Unmasker(mask, len(payload)), create_xor_masker(mask, len(payload))
    pieces = [payload[start:end] for start, end in itertools.pairwise([0, *sorted(cuts), len(payload)])]
    assert b"".join(ours.process(piece) for piece in pieces) == autobahns.process(payload)
    assert ours.pointer() == len(payload)

"""The web process's server set-up (server/serve.py, server/daphne_tuning.py): Daphne's
reactor on uvloop, and TCP writes sent at once instead of on the next loop pass, with
nothing lost, reordered or raised when the kernel takes only part of a write or the peer
has gone."""

from __future__ import annotations

import json
import subprocess
import sys

from server.embedded import BASE_DIR


def test_writes_go_out_at_once_in_order_and_failures_reach_the_reactor() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.server.eager_write_probe"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    report = json.loads(result.stdout)
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

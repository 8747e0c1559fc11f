"""Each Celery worker (and beat) refreshes its entry in a Redis hash while it runs; /readyz
names those whose entry went stale (one that died or hangs), without them failing the web
process's readiness (server/health.py).

    python -m server.worker_heartbeat worker@host   # exit 0 while it beats: a health check
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time

from server.redis_client import get_redis

log = logging.getLogger("iop.celery")
HEARTBEATS_KEY = "iop:celery:worker-heartbeats"
BEAT_SECONDS = 10.0
# Several missed beats: the worker is gone or stuck (a hung main process beats no more).
STALE_SECONDS = 60.0
# A worker stale this long was taken away for good (scaled down, renamed): forgotten.
FORGET_SECONDS = 24 * 3600.0


class Heartbeat:
    def __init__(self, hostname: str) -> None:
        self.hostname = hostname
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="iop-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                get_redis().hset(HEARTBEATS_KEY, self.hostname, str(time.time()))
            except Exception:  # Redis away: the next beat tries again; /readyz shows redis failing
                log.warning("worker heartbeat not written (Redis did not answer)")
            self._stop.wait(BEAT_SECONDS)

    def stop(self) -> None:
        """A worker that stops cleanly leaves no stale entry behind."""
        self._stop.set()
        with contextlib.suppress(Exception):  # then it goes stale, and is forgotten a day later
            get_redis().hdel(HEARTBEATS_KEY, self.hostname)


def stale_workers(now: float | None = None) -> list[str]:
    """Names of the workers that stopped beating, forgetting those gone for a day."""
    now = time.time() if now is None else now
    client = get_redis()
    stale, forgotten = [], []
    for raw_name, raw_time in client.hgetall(HEARTBEATS_KEY).items():
        age = now - float(raw_time)
        name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
        if age > FORGET_SECONDS:
            forgotten.append(name)
        elif age > STALE_SECONDS:
            stale.append(name)
    if forgotten:
        client.hdel(HEARTBEATS_KEY, *forgotten)
    return sorted(stale)


def is_beating(name: str, now: float | None = None) -> bool:
    beat = get_redis().hget(HEARTBEATS_KEY, name)
    return beat is not None and (time.time() if now is None else now) - float(beat) <= STALE_SECONDS


if __name__ == "__main__":
    sys.exit(0 if is_beating(sys.argv[1]) else 1)

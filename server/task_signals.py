"""Worker-side hooks (loaded by every worker: server/celery.py ``imports``): task outcomes
counted for /metrics, the worker's heartbeat for /readyz, and the request id of the request
that queued a task bound around it (server/log_context.py)."""

from __future__ import annotations

import atexit
import logging
import socket
from typing import Any

from celery.signals import (
    beat_init,
    task_failure,
    task_retry,
    task_revoked,
    task_success,
    worker_ready,
    worker_shutdown,
)

import server.log_context  # noqa: F401 - connects the request id's task signals
from server.redis_client import get_redis
from server.worker_heartbeat import Heartbeat

log = logging.getLogger("iop.metrics")
TASK_OUTCOMES_KEY = "iop:metrics:celery-tasks"
_heartbeat: list[Heartbeat] = []


def count_task_outcome(task_name: str, outcome: str) -> None:
    """One HINCRBY per finished task, shared by every worker: /metrics reads the totals."""
    try:
        get_redis().hincrby(TASK_OUTCOMES_KEY, f"{task_name}|{outcome}", 1)
    except Exception:  # metrics never fail a task
        log.warning("task outcome not counted (Redis did not answer)")


def _name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or sender or "unknown")


@task_success.connect
def _succeeded(sender: Any = None, **_: Any) -> None:
    count_task_outcome(_name(sender), "succeeded")


@task_failure.connect
def _failed(sender: Any = None, **_: Any) -> None:
    count_task_outcome(_name(sender), "failed")


@task_retry.connect
def _retried(sender: Any = None, **_: Any) -> None:
    count_task_outcome(_name(sender), "retried")


@task_revoked.connect
def _revoked(sender: Any = None, **_: Any) -> None:
    count_task_outcome(_name(sender), "revoked")


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    heartbeat = Heartbeat(str(getattr(sender, "hostname", None) or "worker"))
    heartbeat.start()
    _heartbeat.append(heartbeat)


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    while _heartbeat:
        _heartbeat.pop().stop()


@beat_init.connect
def _start_beat_heartbeat(**_: Any) -> None:
    """Beat beats too, as ``beat@<host>``: /readyz names a beat that stopped."""
    heartbeat = Heartbeat(f"beat@{socket.gethostname()}")
    heartbeat.start()
    _heartbeat.append(heartbeat)
    atexit.register(_stop_heartbeat)

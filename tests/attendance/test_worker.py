"""A real worker on the real broker: the attendance task delivered several times at once
(a redelivery after a lost ack, the host's end and the sweep together) writes each
record once, with the values one run computes."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction

from accounts.models import User
from attendance import services, tasks
from attendance.models import AttendanceRecord, AttendanceRun
from server.redis_client import get_redis
from sessions.models import Session
from tests.attendance.conftest import segment
from tests.processes import celery_worker


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_write_each_record_once(
    ended_session: Callable[..., Session], ava: User, sam: User
) -> None:
    session = ended_session()
    segment(session, ava, 15, 90)
    queue = f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker(queue, concurrency=2) as worker:
        for _ in range(4):
            tasks.record_session_attendance.apply_async(args=(session.pk,), queue=queue)
        assert worker.wait_for(lambda text: text.count("succeeded") >= 4, timeout=60), worker.text()
    rows = list(
        AttendanceRecord.objects.filter(session=session)
        .order_by("user_id")
        .values_list("user_id", "attended_minutes", "status", "first_join")
    )
    assert [(user, minutes, status) for user, minutes, status, _ in rows] == [
        (ava.pk, 75, "late"),
        (sam.pk, 0, "absent"),
    ]


# --- a worker killed in the middle of the task (issue 21, item 7) --------------------------
#
# Redelivery on this broker: with acks late, a delivered task stays in the Redis
# transport's `unacked` hash until the worker acks it. A worker killed outright never acks
# nor gives it back; kombu puts it back on its queue when a consumer's restore sweep finds
# it older than the visibility timeout (a worker sweeps as it starts, then every ~100 s).
# In production that timeout is CELERY_VISIBILITY_TIMEOUT_SECONDS (6 h; the beat's sweep of
# missed attendance covers a session long before that), so the new worker here runs with
# a 1-second one, set through its environment, and starts once the task is that old.
SHORT_VISIBILITY_SECONDS = 1
RECORD_TABLE = AttendanceRecord._meta.db_table
WAIT_SECONDS = 60


def _wait_until(predicate: Callable[[], Any], what: str) -> Any:
    """Polls until ``predicate`` gives something true (a readiness wait, not a timing check)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def _backends_waiting_for_records() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_locks WHERE relation = %s::regclass AND NOT granted", [RECORD_TABLE])
        return [pid for (pid,) in cursor.fetchall()]


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def _unacked(task_id: str) -> bool:
    """The task's message is delivered and not yet acknowledged (kombu's Redis transport
    keeps such messages, with their headers, in the ``unacked`` hash)."""
    return any(task_id.encode() in payload for payload in get_redis().hvals("unacked"))


def _record_values(session: Session) -> list[tuple[Any, ...]]:
    return list(
        AttendanceRecord.objects.filter(session=session)
        .order_by("user_id")
        .values_list(
            "user_id", "attended_seconds", "attended_minutes", "first_join", "last_leave", "intervals", "status"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_leaves_no_duplicate_rows(
    ended_session: Callable[..., Session], ava: User, sam: User
) -> None:
    session, twin = ended_session(), ended_session()
    for each in (session, twin):
        segment(each, ava, 15, 50, reason="closed_1006")
        segment(each, ava, 51, 90)
    # What a clean run writes, on an identical session.
    services.record_session_attendance(session_id=twin.pk)
    queue = f"test-{uuid.uuid4().hex[:8]}"

    # The known point: the task has read the segments and roster and waits to write the
    # records, behind a lock this test holds on their table (reads are not blocked).
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'LOCK TABLE "{RECORD_TABLE}" IN EXCLUSIVE MODE')
        with celery_worker(queue) as doomed:
            task_id = tasks.record_session_attendance.apply_async(args=(session.pk,), queue=queue).id
            [orphan] = _wait_until(_backends_waiting_for_records, "the task to wait on the records' table")
            os.killpg(doomed.process.pid, signal.SIGKILL)  # kill -9 the worker and its pool child
            doomed.process.wait()
        assert f"[{task_id}] received" in doomed.text()
        assert f"[{task_id}] succeeded" not in doomed.text()
    # The lock is released and the dead worker's database session ends. What it was doing
    # ends as PostgreSQL ends it: a statement in autocommit commits when it completes, even
    # with its client gone; a transaction block left open rolls back. Either way nothing
    # is doubled: no rows, or exactly a clean run's.
    _wait_until(lambda: not _backend_alive(orphan), "the dead worker's database session to end")
    assert _record_values(session) in ([], _record_values(twin))
    # The task was never acknowledged: it waits in the broker to be given back.
    assert _unacked(task_id)
    delivered_at = float(get_redis().zrange("unacked_index", 0, 0, withscores=True)[0][1])
    _wait_until(lambda: time.time() - delivered_at > SHORT_VISIBILITY_SECONDS, "the task to outlive the timeout")

    short_timeout = {"CELERY_VISIBILITY_TIMEOUT_SECONDS": str(SHORT_VISIBILITY_SECONDS)}
    with celery_worker(queue, extra_env=short_timeout) as successor:
        # The same message, given back to the queue: its task id is the killed one's.
        assert successor.wait_for(lambda text: f"[{task_id}] succeeded" in text, WAIT_SECONDS), successor.text()
        _wait_until(lambda: not _unacked(task_id), "the task to be acknowledged")
    # One record per roster member, with what a clean run writes, and the session's run.
    assert AttendanceRecord.objects.filter(session=session).count() == 2
    assert AttendanceRun.objects.filter(session=session).exists()
    assert _record_values(session) == _record_values(twin)
    assert [(user, minutes, status) for user, _, minutes, _, _, _, status in _record_values(session)] == [
        (ava.pk, 75, "late"),
        (sam.pk, 0, "absent"),
    ]

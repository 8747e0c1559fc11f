"""A real worker on the real broker: the attendance task delivered several times at once
(a redelivery after a lost ack, the host's end and the sweep together) writes each
record once, with the values one run computes."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from accounts.models import User
from attendance import tasks
from attendance.models import AttendanceRecord
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

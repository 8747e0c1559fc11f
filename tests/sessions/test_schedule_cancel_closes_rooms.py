"""Cancelling a schedule cancels its sessions not yet started; one already open (in its
opening lead time) has its room closed, as cancelling that one session would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time, timedelta

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from sessions import services
from tests.factories import make_group, make_program, make_session
from tests.support.revocations import listening_for_revocations

pytestmark = pytest.mark.django_db
Clients = Callable[[User], APIClient]


def test_cancelling_a_schedule_closes_the_room_of_its_open_session(
    client_for: Clients, django_capture_on_commit_callbacks: Callable, ada: User, dana: User, sam: User
) -> None:
    group = make_group(program=make_program(), lead=dana, members=[sam])
    schedule = services.create_schedule(
        by=ada,
        kind="group",
        title="Evening group",
        group=group,
        weekdays=[1],
        start_time=time(17, 0),
        duration_minutes=90,
        starts_on=date(2026, 1, 1),
        time_zone="America/Chicago",
    )
    sessions = {
        "opening": make_session(group=group, hosts=[dana], roster=[sam], starts_in=timedelta(minutes=5)),
        "later": make_session(group=group, hosts=[dana], roster=[sam], starts_in=timedelta(days=2)),
        "running": make_session(group=group, hosts=[dana], roster=[sam], starts_in=timedelta(minutes=-5)),
    }
    for session in sessions.values():
        session.schedule = schedule
        session.save(update_fields=["schedule"])
    with listening_for_revocations() as revocations, django_capture_on_commit_callbacks(execute=True):
        response = client_for(ada).post(f"/api/v1/schedules/{schedule.pk}/cancel/")
        assert response.status_code == 200, response.json()
    assert revocations.published() == [
        {"type": "access.revoked", "reason": "session_cancelled", "session_id": sessions["opening"].pk}
    ]
    for session in sessions.values():
        session.refresh_from_db()
    assert sessions["opening"].cancelled_at is not None and sessions["later"].cancelled_at is not None
    assert sessions["running"].cancelled_at is None  # one under way runs to its end

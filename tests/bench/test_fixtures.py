"""The bench's rooms are rooms a client could chat in: nobody is held in the waiting room."""

from __future__ import annotations

import pytest

from bench.fixtures import create_rooms
from measures.checkin import checkin_required_for

pytestmark = pytest.mark.django_db


def test_bench_participants_need_no_further_step_before_admission() -> None:
    rooms = create_rooms("fixture-test", count=2, size=3)
    assert [len(room.user_ids) for room in rooms] == [3, 3]
    for room in rooms:
        assert checkin_required_for(session_id=room.session_id, participant_ids=room.user_ids) == set()

"""A change of a group's people racing the generation of its sessions (the beat task)
still reaches the session generated: both take the group's row lock."""

from __future__ import annotations

import threading
from datetime import time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from groups import services as group_services
from sessions import services as session_services
from sessions.models import RosterEntry, Session, SessionFacilitator
from tests.factories import make_enrollment, make_group, make_program

pytestmark = pytest.mark.django_db(transaction=True)
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


def _run_while_a_session_is_created(monkeypatch: pytest.MonkeyPatch, change: Any) -> list[threading.Thread]:
    """Runs ``change`` on another connection just before the generator writes the session
    (after it has read the group's people), giving it up to 2 s to finish first: without
    the group's lock it does; with it, it waits for the generator's commit. Returns the
    list the thread is put in."""
    create = session_services._create_session_with_people
    started: list[threading.Thread] = []

    def run_change() -> None:
        try:
            change()
        finally:
            connection.close()

    def create_while_changing(**kwargs: Any) -> Session:
        thread = threading.Thread(target=run_change)
        started.append(thread)
        thread.start()
        thread.join(timeout=2)
        return create(**kwargs)

    monkeypatch.setattr(session_services, "_create_session_with_people", create_while_changing)
    return started


def _generate_tomorrow(group: Any, ada: User) -> Session:
    schedule = session_services.create_schedule(
        by=ada,
        kind="group",
        title="Evening group",
        group=group,
        weekdays=EVERY_DAY,
        start_time=time(17, 0),
        duration_minutes=90,
        starts_on=timezone.localdate(),
        time_zone="America/Chicago",
    )
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert session_services.generate_occurrences(schedule=schedule, first_day=tomorrow, last_day=tomorrow) == 1
    return Session.objects.get(schedule=schedule)


def test_a_member_removed_while_a_session_is_generated_is_not_on_its_roster(
    monkeypatch: pytest.MonkeyPatch, ada: User, dana: User, sam: User
) -> None:
    program = make_program()
    make_enrollment(participant=sam, program=program, clinician=dana)
    group = make_group(program=program, lead=dana, members=[sam])
    threads = _run_while_a_session_is_created(
        monkeypatch, lambda: group_services.remove_member(by=ada, group=group, participant=sam)
    )
    session = _generate_tomorrow(group, ada)
    [thread] = threads
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert not RosterEntry.objects.filter(session=session, user=sam, removed_at__isnull=True).exists()


def test_a_co_facilitator_removed_while_a_session_is_generated_does_not_host_it(
    monkeypatch: pytest.MonkeyPatch, ada: User, dana: User, theo: User
) -> None:
    group = make_group(program=make_program(), lead=dana, co=[theo])
    threads = _run_while_a_session_is_created(
        monkeypatch, lambda: group_services.update_group(by=ada, group=group, changes={"co_facilitators": []})
    )
    session = _generate_tomorrow(group, ada)
    [thread] = threads
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert list(SessionFacilitator.objects.filter(session=session).values_list("clinician__username", flat=True)) == [
        "dana"
    ]

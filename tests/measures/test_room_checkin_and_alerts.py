"""Over real sockets (the room consumer and the notification feed): a participant is not
admitted before checking in when the program requires it; hosts, and only hosts, see
check-ins; an item-9 answer reaches the clinician's feed and the hosts' room at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User
from measures.models import CheckIn
from notifications.models import Notification
from programs.models import Program
from server.asgi import application
from tests.factories import UserFactory
from tests.measures.support import check_in, schedule
from tests.sessions.rooms.support import ORIGIN, Clients, error, open_room, state, ticket_for

pytestmark = pytest.mark.django_db(transaction=True)

CHECKIN = {
    "location": {"region": "Illinois", "country": "US", "address": "12 Elm St, Evanston"},
    "emergency_contact": {"name": "Robin", "relation": "sister", "phone": "(312) 555-0199"},
}


@pytest.fixture
async def clients(transactional_db: None) -> AsyncIterator[Clients]:
    opened = Clients()
    yield opened
    await opened.close_all()


@database_sync_to_async
def api_post(user: User, path: str, body: Any) -> tuple[int, Any]:
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(path, body, format="json")
    return response.status_code, response.json()


async def test_checkin_required_before_admission(clients: Clients) -> None:
    room = await open_room(size=2, checked_in=False)
    p0, p1 = room.participants
    lead = await clients.join(room.lead, room.session)
    assert state(lead)["checkins"] == []
    waiting = await clients.connect(p0, room.session)
    await waiting.expect("waiting")
    await lead.expect("waiting.joined")

    assert await error(lead, {"type": "host.admit", "user": p0.pk}) == "not_checked_in"
    assert "checked in" in lead.seen[-1]["message"]
    await lead.send({"type": "host.admit", "all": True})  # nobody waiting has checked in
    assert await waiting.silent()

    status, body = await api_post(p0, f"/api/v1/sessions/{room.session.pk}/checkin/", CHECKIN)
    assert status == 201, body
    received = (await lead.expect("checkin.received"))["checkin"]
    assert received["user"] == p0.pk
    assert received["location"] == CHECKIN["location"]
    assert received["emergency_contact"] == {"name": "Robin", "relation": "sister", "phone": "+13125550199"}
    assert await waiting.silent()  # hosts only

    await lead.send({"type": "host.admit", "user": p0.pk})
    await waiting.expect("admitted")
    admitted_state = await waiting.expect("room.state")
    assert "checkins" not in admitted_state and "waiting" not in admitted_state
    co = await clients.join(room.co, room.session)
    assert [c["user"] for c in state(co)["checkins"]] == [p0.pk]
    # Nothing of the check-in went to the participant's sockets, nor into a notification.
    assert not any("Robin" in str(frame) for frame in waiting.seen)
    assert not await database_sync_to_async(Notification.objects.filter(body__contains="Robin").exists)()
    _ = p1


async def test_a_session_that_admits_directly_still_waits_for_the_checkin(clients: Clients) -> None:
    room = await open_room(size=2, admit_directly=True, checked_in=False)
    p0, p1 = room.participants
    await database_sync_to_async(check_in)(room.session, [p1])
    await clients.join(room.lead, room.session)
    held = await clients.connect(p0, room.session)
    assert (await held.next())["you"]["admitted"] is False
    await held.expect("waiting")
    straight_in = await clients.join(p1, room.session)
    assert straight_in.seen[0]["you"]["admitted"] is True


async def test_a_program_may_not_require_the_checkin(clients: Clients) -> None:
    room = await open_room(size=1, checked_in=False)
    await database_sync_to_async(
        lambda: Program.objects.filter(groups__sessions=room.session).update(checkin_required=False)
    )()
    lead = await clients.join(room.lead, room.session)
    await clients.admitted_by(lead, room.participants[0], room.session)


async def test_an_item_9_answer_reaches_the_clinician_feed_and_the_hosts_room(clients: Clients) -> None:
    room = await open_room(size=2)
    p0, p1 = room.participants
    primary = await database_sync_to_async(UserFactory.create)(first_name="Dana")

    @database_sync_to_async
    def enroll() -> None:
        from tests.factories import make_enrollment

        assert room.session.group is not None
        program = room.session.group.program
        schedule(program, "phq9")
        make_enrollment(participant=p0, program=program, clinician=primary)

    await enroll()
    feed = WebsocketCommunicator(application, f"/ws/notifications/?ticket={await ticket_for(primary)}", headers=ORIGIN)
    assert (await feed.connect())[0]
    lead = await clients.join(room.lead, room.session)
    co = await clients.join(room.co, room.session)
    a = await clients.admitted_by(lead, p0, room.session)
    b = await clients.admitted_by(lead, p1, room.session)
    for socket in (co, a, b):
        await socket.drain()

    status, body = await api_post(p0, "/api/v1/assessments/", {"instrument": "phq9", "answers": [0] * 8 + [1]})
    assert status == 201 and body["risk"] is True and "988" in body["crisis_resources"]

    frame = await feed.receive_json_from(timeout=3)
    assert frame["type"] == "notification" and frame["kind"] == "clinical_alert"
    assert frame["title"] == "Urgent: a patient needs attention"
    for host in (lead, co):
        attention = await host.expect("attention.needed")
        assert attention["participant"] == p0.pk and attention["message"] == "A participant needs attention."
        assert set(attention) == {"type", "participant", "alert", "message", "seq"}  # no answers, no score
    assert await a.silent() and await b.silent()
    # The hosts of her open session were told in their feeds too (once each).
    kinds = await database_sync_to_async(
        lambda: sorted(Notification.objects.filter(kind="clinical_alert").values_list("recipient_id", flat=True))
    )()
    assert kinds == sorted([primary.pk, room.lead.pk, room.co.pk])
    await feed.disconnect()
    assert await database_sync_to_async(CheckIn.objects.count)() == 2

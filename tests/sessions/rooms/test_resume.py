"""Catching up after a gap (sessions/rooms/resume.py): replay within the log, resync beyond it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from tests.sessions.rooms.support import (
    Clients,
    OpenRoom,
    RoomClient,
    chat,
    of_type,
    open_room,
    state,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def until_pong(client: RoomClient) -> list[dict[str, Any]]:
    """The frames this socket sends before answering a ping sent now: everything it was
    asked to send directly (replays, errors) before it, without a quiet window."""
    await client.send({"type": "ping"})
    frames = []
    while (frame := await client.next()) != {"type": "pong"}:
        frames.append(frame)
    return frames


async def _resume_setup(clients: Clients, room: OpenRoom) -> tuple[int, list[dict[str, Any]]]:
    """A joins and sees seq N, leaves; B chats 3 times. Returns N and B's chat frames."""
    p0, p1 = room.participants[:2]
    a = await clients.join(p0, room.session)
    b = await clients.join(p1, room.session)
    last_seen = (await a.expect("presence.joined"))["seq"]
    assert await a.silent()
    await a.leave()
    await b.expect("presence.left")
    for index in range(3):
        await b.send(chat(f"missed {index}", f"m-{index}"))
    sent = [await b.expect("chat.message") for _ in range(3)]
    return last_seen, sent


def history_line(frame: dict[str, Any]) -> dict[str, Any]:
    """A chat.message frame as a chat.history line (no type, no seq)."""
    return {key: value for key, value in frame.items() if key not in ("type", "seq")}


async def test_resume_replays_missed_frames_in_order_without_duplicates(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    last_seen, sent = await _resume_setup(clients, room)
    assert [f["seq"] for f in sent] == sorted(f["seq"] for f in sent)

    a = await clients.join(room.participants[0], room.session)
    current = state(a)["seq"]
    await a.send({"type": "resume", "last_seq": last_seen})
    replayed = await until_pong(a)
    assert of_type(replayed, "chat.message") == sent
    seqs = [frame["seq"] for frame in replayed]
    assert seqs == sorted(set(seqs))
    assert all(last_seen < seq <= current for seq in seqs)
    # Nothing left to replay from here on.
    await a.send({"type": "resume", "last_seq": current})
    assert await until_pong(a) == []


async def test_resume_past_the_trimmed_log_resyncs_from_the_database(clients: Clients) -> None:
    room = await open_room(admit_directly=True)
    with override_settings(ROOM_LOG_LENGTH=2):
        last_seen, sent = await _resume_setup(clients, room)
        a = await clients.join(room.participants[0], room.session)
        await a.send({"type": "resume", "last_seq": last_seen})
        replayed = await until_pong(a)
    assert replayed[0] == {"type": "resync", "reason": "too_far_behind"}
    assert replayed[1]["type"] == "room.state"
    assert replayed[1]["seq"] >= state(a)["seq"]
    assert replayed[2] == {"type": "chat.history", "messages": [history_line(frame) for frame in sent]}
    assert len(replayed) == 3


async def test_resume_up_to_a_live_frame_replays_nothing(clients: Clients) -> None:
    """Regression: replay() took last_seq > the room.state's seq for a restarted counter,
    so a resume naming a frame this socket already got live caused a spurious resync."""
    room = await open_room(admit_directly=True)
    a, b = await clients.seated(room.session, room.participants[0], room.participants[1])
    await b.send(chat("live one", "l-1"))
    newest = (await a.expect("chat.message"))["seq"]
    assert newest > state(a)["seq"]
    await a.send({"type": "resume", "last_seq": newest})
    assert await until_pong(a) == []


async def _late_admission(clients: Clients) -> tuple[RoomClient, RoomClient, dict[str, Any], dict[str, Any]]:
    """A room where p0 chats before p1 is first admitted and again after. Returns the
    lead's and p1's sockets and both lines as broadcast."""
    room = await open_room(size=2)
    p0, p1 = room.participants
    lead = await clients.join(room.lead, room.session)
    a = await clients.admitted_by(lead, p0, room.session)
    await a.send(chat("before you came", "early"))
    early = await a.expect("chat.message")
    b = await clients.admitted_by(lead, p1, room.session)
    await a.send(chat("after you came", "late"))
    late = await b.expect("chat.message")
    await lead.expect("chat.message", text="after you came")
    return lead, b, early, late


async def test_a_participant_admitted_late_is_not_replayed_earlier_chat(clients: Clients) -> None:
    """Their room.state at admission is newer than the early line, so a resume from just
    before it covers it (within the log): it must still not be replayed to them."""
    _, b, early, _ = await _late_admission(clients)
    await b.send({"type": "resume", "last_seq": early["seq"] - 1})
    replayed = await until_pong(b)
    assert replayed and "resync" not in {frame["type"] for frame in replayed}, "replayed from the log"
    assert of_type(replayed, "chat.message") == [], "nothing from before their first admission"


async def test_a_participant_admitted_late_gets_no_earlier_chat_in_a_resync(clients: Clients) -> None:
    with override_settings(ROOM_LOG_LENGTH=1):
        lead, b, early, late = await _late_admission(clients)
        await b.send({"type": "resume", "last_seq": 1})
        frames = await until_pong(b)
        assert frames[0] == {"type": "resync", "reason": "too_far_behind"}
        assert frames[2] == {"type": "chat.history", "messages": [history_line(late)]}
        await lead.send({"type": "resume", "last_seq": 1})
        frames = await until_pong(lead)
        assert frames[2] == {"type": "chat.history", "messages": [history_line(early), history_line(late)]}

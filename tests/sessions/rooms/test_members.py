"""Which broadcasts a socket receives (sessions/rooms/members.py SocketView.sees): the
audience rules, without a room."""

from __future__ import annotations

import pytest

from sessions.rooms.members import RoomMember, SocketView, breakout_audience, chat_audience, user_audience

LEAD, CO, PARTICIPANT = 1, 2, 3


def member(user_id: int, role: str) -> RoomMember:
    return RoomMember(10, user_id, "Name", "name", role, LEAD, frozenset({CO}))


AUDIENCES = ["all", user_audience(PARTICIPANT), user_audience(99), "waiting", "room", "staff", "main",
             breakout_audience(1), breakout_audience(2)]  # fmt: skip


@pytest.mark.parametrize(
    ("view", "sees"),
    [
        # Waiting: the whole room's news, their own frames and the waiting room's.
        (SocketView(member(PARTICIPANT, "participant")), {"all", "user.3", "waiting"}),
        # Admitted in the main room.
        (SocketView(member(PARTICIPANT, "participant"), admitted=True), {"all", "user.3", "room", "main"}),
        # Admitted, in breakout 1: its chat, not the main room's nor breakout 2's.
        (
            SocketView(member(PARTICIPANT, "participant"), admitted=True, breakout=1),
            {"all", "user.3", "room", "breakout.1"},
        ),
        # A host sees the staff frames, the main room and every breakout.
        (
            SocketView(member(LEAD, "lead"), admitted=True),
            {"all", "room", "staff", "main", "breakout.1", "breakout.2"},
        ),
        (
            SocketView(member(CO, "co"), admitted=True, breakout=2),
            {"all", "room", "staff", "main", "breakout.1", "breakout.2"},
        ),
    ],
    ids=["waiting", "admitted", "in-a-breakout", "lead", "co-visiting-a-breakout"],
)
def test_a_socket_sees_exactly_its_audiences(view: SocketView, sees: set[str]) -> None:
    assert {audience for audience in AUDIENCES if view.sees(audience)} == sees


def test_a_chat_line_goes_to_the_room_it_was_posted_in() -> None:
    assert chat_audience(None) == "main"
    assert chat_audience(3) == "breakout.3"

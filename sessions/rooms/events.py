"""Every frame the server sends to a live room, built here and only here.

Each frame type is a TypedDict: a plain dict at run time (encoded by orjson on the hot
path, no model instance per frame), checked by mypy where it is built, validated against
the same type in the tests (``tests/sessions/rooms/test_events.py``) and published as the
protocol's JSON Schema (``sessions/rooms/protocol.py``, ``docs/websocket-protocol.md``).

A frame broadcast to a room gets its ``seq`` from the room's stream (store.publish adds
it), so builders of broadcast frames return the frame without it; the published model of
such a frame (``Sequenced``) carries it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, StringConstraints, with_config
from typing_extensions import TypedDict

# Extra keys fail validation: a test catches a builder that sends more than its model.
_STRICT = ConfigDict(extra="forbid")

# Mesh signaling limits (frames.py checks them on the way in): an SDP of a few audio and
# video tracks is 3 to 8 KiB; a candidate line is under 200 characters.
MAX_SDP_CHARS = 16 * 1024
MAX_CANDIDATE_CHARS = 1024


@with_config(_STRICT)
class UserRef(TypedDict):
    """A person as the room shows them: first name only, and their role in the session."""

    id: int
    name: str
    role: Literal["lead", "co", "participant", "guardian"] | None


@with_config(_STRICT)
class Person(UserRef):
    hand_raised: bool
    breakout: int | None


@with_config(_STRICT)
class You(UserRef):
    host: bool
    admitted: bool
    hand_raised: bool
    breakout: int | None


@with_config(_STRICT)
class SessionInfo(TypedDict):
    id: int
    kind: Literal["group", "individual", "family"]
    starts_at: str
    ends_at: str
    admit_directly: bool


@with_config(_STRICT)
class WaitingPerson(TypedDict):
    id: int
    name: str
    since: str


@with_config(_STRICT)
class ChatLine(TypedDict):
    id: int
    user: UserRef
    text: str
    sent_at: str
    client_id: str
    breakout: int | None


@with_config(ConfigDict(extra="forbid", strict=True))
class IceCandidate(TypedDict):
    """An ICE candidate as the browser's ``RTCIceCandidate.toJSON()`` gives it."""

    candidate: Annotated[str, StringConstraints(max_length=MAX_CANDIDATE_CHARS)]
    sdpMid: NotRequired[Annotated[str, StringConstraints(max_length=64)] | None]
    sdpMLineIndex: NotRequired[Annotated[int, Field(ge=0, le=1024)] | None]
    usernameFragment: NotRequired[Annotated[str, StringConstraints(max_length=256)] | None]


# --- Frames sent to one socket ------------------------------------------------------------


@with_config(_STRICT)
class Pong(TypedDict):
    """The answer to a ``ping``."""

    type: Literal["pong"]


@with_config(_STRICT)
class Location(TypedDict):
    region: str
    country: str
    address: str


@with_config(_STRICT)
class EmergencyContact(TypedDict):
    name: str
    relation: str
    phone: str


@with_config(_STRICT)
class CheckInInfo(TypedDict):
    """Where a participant is for this session and whom to call (hosts only)."""

    user: int
    location: Location
    emergency_contact: EmergencyContact
    at: str


@with_config(_STRICT)
class RoomState(TypedDict):
    """First frame after accept, and again after admission or a resync. ``seq`` is the
    room's stream position it reflects; ``waiting`` and ``checkins`` (who has checked in
    for this session, with location and emergency contact) are sent to hosts only."""

    type: Literal["room.state"]
    seq: int
    session: SessionInfo
    status: Literal["scheduled", "open", "ended", "cancelled"]
    host: int | None
    you: You
    participants: list[Person]
    waiting: NotRequired[list[WaitingPerson]]
    checkins: NotRequired[list[CheckInInfo]]


@with_config(_STRICT)
class Resync(TypedDict):
    """What was missed cannot be replayed: a fresh ``room.state`` (and, after a gap,
    ``chat.history``) follows."""

    type: Literal["resync"]
    reason: Literal["too_far_behind", "counter_reset", "server_reconnecting"]


@with_config(_STRICT)
class ChatHistory(TypedDict):
    """After a ``resync``: the recent chat this person may see, oldest first. Lines may
    also arrive live; clients de-duplicate by ``id``."""

    type: Literal["chat.history"]
    messages: list[ChatLine]


@with_config(_STRICT)
class Error(TypedDict):
    """A frame that was refused; the socket stays open."""

    type: Literal["error"]
    code: str
    message: str


# Mesh signaling, relayed from one person to another person's sockets (signaling.py): not
# room state, so never numbered nor in the replay log. "from" is a keyword: the functional
# TypedDict form.
RtcDescription = TypedDict("RtcDescription", {"type": Literal["rtc.offer", "rtc.answer"], "from": int, "sdp": str})
RtcDescription.__doc__ = """An ``rtc.offer`` or ``rtc.answer`` sent to you alone by ``from``, a
person in your part of the room (mesh media). No ``seq``: not room state, never replayed."""
with_config(_STRICT)(RtcDescription)

RtcCandidate = TypedDict("RtcCandidate", {"type": Literal["rtc.ice"], "from": int, "candidate": IceCandidate})
RtcCandidate.__doc__ = """An ICE candidate sent to you alone by ``from`` (mesh media). No ``seq``."""
with_config(_STRICT)(RtcCandidate)


# --- Frames broadcast to an audience (store.publish adds ``seq``) -------------------------


@with_config(_STRICT)
class Waiting(TypedDict):
    """To a participant held in the waiting room: on entry (no ``seq``), and broadcast
    to everyone waiting when a host arrives or the last one leaves."""

    type: Literal["waiting"]
    host_present: bool
    seq: NotRequired[int]


@with_config(_STRICT)
class PresenceChange(TypedDict):
    """A person arrived or left: ``presence.*`` to everyone admitted, ``waiting.*`` to hosts
    (the waiting queue). One per person, however many tabs."""

    type: Literal["presence.joined", "presence.left", "waiting.joined", "waiting.left"]
    user: UserRef
    reason: NotRequired[Literal["removed"]]
    seq: NotRequired[int]


@with_config(_STRICT)
class Admitted(TypedDict):
    """To the person a host admitted; a fresh ``room.state`` follows."""

    type: Literal["admitted"]
    seq: NotRequired[int]


@with_config(_STRICT)
class Muted(TypedDict):
    """To everyone admitted: a host (``by``) muted ``user``. That person's client mutes its
    microphone; the others show them muted."""

    type: Literal["muted"]
    user: int
    by: int
    seq: NotRequired[int]


@with_config(_STRICT)
class Removed(TypedDict):
    """To the person a host removed; the socket closes with 4000."""

    type: Literal["removed"]
    seq: NotRequired[int]


@with_config(_STRICT)
class SessionEnded(TypedDict):
    """To everyone: the session ended; sockets close with 1000."""

    type: Literal["session.ended"]
    seq: NotRequired[int]


@with_config(_STRICT)
class HostChanged(TypedDict):
    """To everyone: who holds the host controls now (null: no host present)."""

    type: Literal["host.changed"]
    host: int | None
    seq: NotRequired[int]


@with_config(_STRICT)
class ChatMessage(ChatLine):
    """A chat line, to the main room or one breakout (hosts see every breakout)."""

    type: Literal["chat.message"]
    seq: NotRequired[int]


@with_config(_STRICT)
class HandChange(TypedDict):
    """To everyone admitted."""

    type: Literal["hand.raised", "hand.lowered"]
    user: UserRef
    seq: NotRequired[int]


@with_config(_STRICT)
class BreakoutOpened(TypedDict):
    """To everyone admitted: ``rooms`` maps a breakout number to the user ids in it."""

    type: Literal["breakout.opened"]
    rooms: dict[str, list[int]]
    seq: NotRequired[int]


@with_config(_STRICT)
class BreakoutClosed(TypedDict):
    """To everyone admitted: everyone is back in the main room."""

    type: Literal["breakout.closed"]
    seq: NotRequired[int]


@with_config(_STRICT)
class CheckInReceived(TypedDict):
    """To hosts only: a participant checked in (or changed their check-in) for this session."""

    type: Literal["checkin.received"]
    checkin: CheckInInfo
    seq: NotRequired[int]


@with_config(_STRICT)
class AttentionNeeded(TypedDict):
    """To hosts only: a participant's questionnaire answer needs a clinician's attention now
    (an item-9 alert). It carries no answer; ``alert`` is the id to open and acknowledge."""

    type: Literal["attention.needed"]
    participant: int
    alert: int
    message: str
    seq: NotRequired[int]


class Control(TypedDict, total=False):
    """Not sent: carried beside a broadcast frame to change the receiving sockets' state."""

    admit: int
    remove: int
    end: bool
    breakouts: dict[str, int]


# Frames that carry a ``seq`` when sent (the broadcast ones; ``Waiting`` has it optional).
SEQUENCED: tuple[type, ...] = (
    PresenceChange,
    Admitted,
    Muted,
    Removed,
    SessionEnded,
    HostChanged,
    ChatMessage,
    HandChange,
    BreakoutOpened,
    BreakoutClosed,
    CheckInReceived,
    AttentionNeeded,
)
DIRECT: tuple[type, ...] = (Pong, RoomState, Resync, ChatHistory, Error, Waiting, RtcDescription, RtcCandidate)


# --- Builders -------------------------------------------------------------------------------


def pong() -> Pong:
    return {"type": "pong"}


def error(code: str, message: str) -> Error:
    return {"type": "error", "code": code, "message": message}


def resync(reason: Literal["too_far_behind", "counter_reset", "server_reconnecting"]) -> Resync:
    return {"type": "resync", "reason": reason}


def waiting(*, host_present: bool) -> Waiting:
    return {"type": "waiting", "host_present": host_present}


def presence(
    kind: Literal["presence.joined", "presence.left", "waiting.joined", "waiting.left"],
    user: UserRef,
    *,
    removed: bool = False,
) -> PresenceChange:
    frame: PresenceChange = {"type": kind, "user": user}
    if removed:
        frame["reason"] = "removed"
    return frame


def admitted() -> Admitted:
    return {"type": "admitted"}


def muted(*, user: int, by: int) -> Muted:
    return {"type": "muted", "user": user, "by": by}


def rtc_description(kind: Literal["rtc.offer", "rtc.answer"], *, sender: int, sdp: str) -> RtcDescription:
    return {"type": kind, "from": sender, "sdp": sdp}


def rtc_candidate(*, sender: int, candidate: IceCandidate) -> RtcCandidate:
    return {"type": "rtc.ice", "from": sender, "candidate": candidate}


def removed() -> Removed:
    return {"type": "removed"}


def session_ended() -> SessionEnded:
    return {"type": "session.ended"}


def host_changed(host: int | None) -> HostChanged:
    return {"type": "host.changed", "host": host}


def hand(*, raised: bool, user: UserRef) -> HandChange:
    return {"type": "hand.raised" if raised else "hand.lowered", "user": user}


def breakout_opened(rooms: dict[int, list[int]]) -> BreakoutOpened:
    return {"type": "breakout.opened", "rooms": {str(n): sorted(users) for n, users in rooms.items()}}


def breakout_closed() -> BreakoutClosed:
    return {"type": "breakout.closed"}


def checkin_info(
    *, user: int, region: str, country: str, address: str, contact: tuple[str, str, str], at: datetime
) -> CheckInInfo:
    name, relation, phone = contact
    return {
        "user": user,
        "location": {"region": region, "country": country, "address": address},
        "emergency_contact": {"name": name, "relation": relation, "phone": phone},
        "at": at.isoformat(),
    }


def checkin_received(info: CheckInInfo) -> CheckInReceived:
    return {"type": "checkin.received", "checkin": info}


def attention_needed(*, participant: int, alert: int) -> AttentionNeeded:
    return {
        "type": "attention.needed",
        "participant": participant,
        "alert": alert,
        "message": "A participant needs attention.",
    }


def chat_line(
    *, message_id: int, user: UserRef, text: str, sent_at: datetime, client_id: str, breakout: int | None
) -> ChatLine:
    return {
        "id": message_id,
        "user": user,
        "text": text,
        "sent_at": sent_at.isoformat(),
        "client_id": client_id,
        "breakout": breakout,
    }


def chat_message(line: ChatLine) -> ChatMessage:
    """Key order matters: "type" first (resume.py tells chat lines in the log by the text's start)."""
    return {"type": "chat.message", **line}


def chat_history(lines: list[ChatLine]) -> ChatHistory:
    return {"type": "chat.history", "messages": lines}


def with_seq(frame: Any, seq: int) -> dict[str, Any]:
    """A broadcast frame as a socket receives it (a repeat answered to its sender)."""
    return {**frame, "seq": seq}

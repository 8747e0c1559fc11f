"""Schemas of the frames a client may send to a live room (CONTRACT.md, Websockets).

Strict: no type coercion ("5" is not a user id, true is not a number), no unknown fields.
A frame that fails gets an ``error`` frame naming the field, never echoing its value.
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, model_validator

from server.ws import FrameError
from sessions.rooms.events import MAX_SDP_CHARS, IceCandidate

MAX_BREAKOUT_ROOMS = 50
MAX_ROOM_SIZE = 200

UserId = Annotated[int, Field(ge=1, le=2**53)]
BreakoutNumber = Annotated[int, Field(ge=1, le=MAX_BREAKOUT_ROOMS)]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Ping(_Frame):
    """Keeps the socket alive; answered with ``pong``."""

    type: Literal["ping"]


class ChatSend(_Frame):
    """Post a chat line. ``client_id`` is the line's idempotency key."""

    type: Literal["chat.send"]
    text: Annotated[str, StringConstraints(min_length=1, max_length=settings.CHAT_MAX_CHARS)]
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
    # Hosts may post into a breakout they visit; participants post where they are.
    breakout: BreakoutNumber | None = None

    @model_validator(mode="after")
    def _printable(self) -> ChatSend:
        if not self.text.strip():
            raise ValueError("text must not be blank")
        if "\x00" in self.text:  # PostgreSQL text cannot hold NUL
            raise ValueError("text must not contain NUL characters")
        return self


class HandRaise(_Frame):
    """Raise your hand (admitted people)."""

    type: Literal["hand.raise"]


class HandLower(_Frame):
    """Lower your hand."""

    type: Literal["hand.lower"]


class Resume(_Frame):
    """Catch up after a reconnect: the last ``seq`` received."""

    type: Literal["resume"]
    last_seq: Annotated[int, Field(ge=0, le=2**53)]


class HostAdmit(_Frame):
    """Admit one waiting participant (``user``) or everyone waiting (``all: true``)."""

    type: Literal["host.admit"]
    user: UserId | None = None
    all: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> HostAdmit:
        if (self.user is None) == (not self.all):
            raise ValueError('give either "user" or "all": true')
        return self


class HostRemove(_Frame):
    """Remove a person for the rest of the session (the controlling host)."""

    type: Literal["host.remove"]
    user: UserId


class HostMute(_Frame):
    """Ask a person's client to mute (the controlling host)."""

    type: Literal["host.mute"]
    user: UserId


class HostEnd(_Frame):
    """End the session for everyone (the controlling host)."""

    type: Literal["host.end"]


class BreakoutOpen(_Frame):
    """``rooms`` maps a breakout number ("1".."50") to the participants assigned to it."""

    type: Literal["breakout.open"]
    rooms: Annotated[
        dict[
            Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]?$")],
            Annotated[list[UserId], Field(min_length=1, max_length=MAX_ROOM_SIZE)],
        ],
        Field(min_length=1, max_length=MAX_BREAKOUT_ROOMS),
    ]

    @model_validator(mode="after")
    def _numbers_in_range(self) -> BreakoutOpen:
        if any(int(number) > MAX_BREAKOUT_ROOMS for number in self.rooms):
            raise ValueError(f"breakout numbers run from 1 to {MAX_BREAKOUT_ROOMS}")
        return self

    def assignments(self) -> dict[int, list[int]]:
        return {int(number): list(users) for number, users in self.rooms.items()}


class BreakoutClose(_Frame):
    """Bring everyone back to the main room (the controlling host)."""

    type: Literal["breakout.close"]


class RtcOffer(_Frame):
    """Mesh media: a WebRTC offer (SDP) for one person in your part of the room (the main
    room or your breakout); they get it as ``rtc.offer`` with ``from``."""

    type: Literal["rtc.offer"]
    to: UserId
    sdp: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SDP_CHARS)]


class RtcAnswer(_Frame):
    """Mesh media: the answer (SDP) to an ``rtc.offer``, for the person who made it."""

    type: Literal["rtc.answer"]
    to: UserId
    sdp: Annotated[str, StringConstraints(min_length=1, max_length=MAX_SDP_CHARS)]


class RtcIce(_Frame):
    """Mesh media: one ICE candidate for a peer (``candidate`` as RTCIceCandidate.toJSON()
    gives it; an empty ``candidate`` string ends the candidates)."""

    type: Literal["rtc.ice"]
    to: UserId
    candidate: IceCandidate


InboundFrame = Annotated[
    Ping
    | ChatSend
    | HandRaise
    | HandLower
    | Resume
    | HostAdmit
    | HostRemove
    | HostMute
    | HostEnd
    | BreakoutOpen
    | BreakoutClose
    | RtcOffer
    | RtcAnswer
    | RtcIce,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[InboundFrame] = TypeAdapter(InboundFrame)
MODELS: tuple[type[_Frame], ...] = (
    Ping,
    ChatSend,
    HandRaise,
    HandLower,
    Resume,
    HostAdmit,
    HostRemove,
    HostMute,
    HostEnd,
    BreakoutOpen,
    BreakoutClose,
    RtcOffer,
    RtcAnswer,
    RtcIce,
)
_TYPE_OF = {model: model.model_fields["type"].annotation.__args__[0] for model in MODELS}  # type: ignore[union-attr]
FRAME_TYPES = frozenset(_TYPE_OF.values())
# Frames that are nothing but their type (ping, hand.raise, host.end, ...): a frame of
# exactly {"type": ...} is the one shared, frozen instance, without a validation pass
# (pings are most of a room's inbound frames; bench S1).
_TYPE_ONLY: dict[object, InboundFrame] = {
    name: _ADAPTER.validate_python({"type": name})
    for model, name in _TYPE_OF.items()
    if list(model.model_fields) == ["type"]
}


def parse_inbound(frame: dict[str, object]) -> InboundFrame:
    """The validated frame, or FrameError with a message that names the field."""
    if frame.get("type") not in FRAME_TYPES:
        raise FrameError("unknown_type", f"Unknown frame type {str(frame.get('type'))[:40]!r}.")
    if len(frame) == 1 and (shared := _TYPE_ONLY.get(frame["type"])) is not None:
        return shared
    try:
        return _ADAPTER.validate_python(frame)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise FrameError("invalid", f"{where}: {first['msg']}") from None

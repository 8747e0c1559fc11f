"""Who a room socket belongs to (decided once at the handshake), what it may see of the
room's broadcasts, and the refusals a room's services raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from accounts.models import User
from sessions.models import FacilitatorRole
from sessions.rooms import events


class Refusal(StrEnum):
    """Why a socket may not enter; the consumer turns each into its close code."""

    BAD_TICKET = "bad_ticket"  # no, reused or expired ticket, or the user may no longer connect
    FORBIDDEN = "forbidden"  # not allowed in this room
    NOT_FOUND = "not_found"  # no such session
    NOT_OPEN = "not_open"  # not yet open, ended or cancelled


class RoomRefused(Exception):
    def __init__(self, reason: Refusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class RoomActionError(Exception):
    """A frame that is understood but not allowed now: an ``error`` frame, socket stays."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def display_name(user: User) -> str:
    # First names only: other participants see each other, never surnames or usernames.
    return user.first_name or f"Participant {user.pk}"


@dataclass(frozen=True)
class RoomMember:
    session_id: int
    user_id: int
    name: str
    username: str
    role: str  # "lead", "co", "participant" or "guardian"
    lead_id: int | None
    co_host_ids: frozenset[int] = field(default_factory=frozenset)
    admit_directly: bool = False  # the session skips the waiting room

    @property
    def is_host(self) -> bool:
        return self.role in (FacilitatorRole.LEAD, FacilitatorRole.CO)

    @property
    def host_ids(self) -> set[int]:
        return {self.lead_id, *self.co_host_ids} - {None}  # type: ignore[return-value]

    def actor(self) -> User:
        """Enough of the user for an audit entry, without a query."""
        return User(pk=self.user_id, username=self.username)

    def public(self) -> events.UserRef:
        return {"id": self.user_id, "name": self.name, "role": self.role}  # type: ignore[typeddict-item]


def user_audience(user_id: int) -> str:
    return f"user.{user_id}"


def breakout_audience(number: int) -> str:
    return f"breakout.{number}"


def chat_audience(breakout: int | None) -> str:
    return "main" if breakout is None else breakout_audience(breakout)


@dataclass
class SocketView:
    """One socket's view of its room, kept from the room's own frames (its entry state,
    then ``admit`` and ``breakouts`` controls): it decides which broadcasts the socket
    receives, and so where it may post."""

    member: RoomMember
    admitted: bool = False
    breakout: int | None = None
    state_seq: int = 0  # the stream position of the last room.state sent
    last_sent_seq: int = 0  # the newest broadcast sent

    def sees(self, audience: str) -> bool:
        """Audiences (store.py): all, user.<id>, waiting, room (everyone admitted), staff
        (hosts), main (the main room), breakout.<n>."""
        member = self.member
        if audience == "all":
            return True
        if audience.startswith("user."):
            return audience == user_audience(member.user_id)
        if audience == "waiting":
            return not self.admitted
        if not self.admitted:
            return False
        if audience == "room":
            return True
        if audience == "staff":
            return member.is_host
        if audience == "main":
            return member.is_host or self.breakout is None
        if member.is_host:
            return True
        return self.breakout is not None and audience == breakout_audience(self.breakout)

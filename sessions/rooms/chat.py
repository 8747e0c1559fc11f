"""Chat in a live room: posting a line, answering a re-sent one, and the recent chat a
socket gets after a ``resync``.

A line is stored (INSERT, committed) and then broadcast; the broadcast gives it its seq
in the room's stream (store.py). History in PostgreSQL is read by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from server.redis_client import get_redis
from server.ws import db_task
from sessions.models import AttendanceSegment, ChatMessage
from sessions.rooms import events, store
from sessions.rooms.access import roles_in_session
from sessions.rooms.chat_poster import chat_broadcast, chat_frame, poster
from sessions.rooms.members import RoomActionError, RoomMember, SocketView, display_name
from sessions.rooms.store import RoomKeys

# The most lines a ``chat.history`` frame carries.
HISTORY_LIMIT = 500


@dataclass(frozen=True)
class ChatOutcome:
    """``repeat`` holds the line's frame when this client_id was posted before: it goes to
    the sender only, so a re-send after a reconnect is acknowledged but not re-posted."""

    repeat: dict[str, Any] | None = None


async def post_chat_message(*, view: SocketView, text: str, client_id: str, breakout: int | None) -> ChatOutcome:
    """Store and broadcast one line, on the event loop (server/async_db.py says why).

    A socket posts where it reads (its view, kept from the room's own frames): a
    participant to their breakout or the main room, a host to the main room or to any
    open breakout. If the process dies after the INSERT, the line is not broadcast; the
    client's re-send with the same client_id broadcasts it then."""
    member = view.member
    if member.is_host:
        if breakout is not None and breakout not in await store.open_breakout_numbers(member.session_id):
            raise RoomActionError("no_such_breakout", "That breakout room is not open.")
    elif not view.admitted:
        raise RoomActionError("not_admitted", "You are in the waiting room.")
    else:
        breakout = view.breakout
    message = ChatMessage(
        session_id=member.session_id, user_id=member.user_id, client_id=client_id, text=text,
        breakout=breakout, sent_at=timezone.now(),
    )  # fmt: skip
    if await poster().post(message, member.public()):
        return ChatOutcome()
    return await db_task(_answer_repeat)(member=member, client_id=client_id)


def _answer_repeat(*, member: RoomMember, client_id: str) -> ChatOutcome:
    """A client_id stored before. Its broadcast is made now if it never was (the process
    or Redis failed in between: the room, the sender included, gets it once); else the
    sender alone gets the line again, with the seq it was broadcast under."""
    stored = ChatMessage.objects.get(session_id=member.session_id, user_id=member.user_id, client_id=client_id)
    published = store.publish(chat_broadcast(stored, member.public()))
    if published.new:
        return ChatOutcome()
    return ChatOutcome(repeat=events.with_seq(chat_frame(stored, member.public()), published.seq))


def first_admitted_at(member: RoomMember) -> datetime | None:
    """When a participant was first in the room (their first attendance segment): they
    see the session's chat from then on. None for hosts, who see all of it."""
    if member.is_host:
        return None
    first = AttendanceSegment.objects.filter(session_id=member.session_id, user_id=member.user_id).order_by("joined_at")
    return first.values_list("joined_at", flat=True).first() or timezone.now()


def recent_chat(*, member: RoomMember) -> list[events.ChatLine]:
    """The newest lines this member may see, oldest first: a participant's from their
    first admission on, in the room (main or breakout) they are in now; a host's all."""
    messages = ChatMessage.objects.filter(session_id=member.session_id)
    since = first_admitted_at(member)
    if since is not None:
        assigned = get_redis().hget(RoomKeys(member.session_id).breakouts, str(member.user_id))
        messages = messages.filter(breakout=int(assigned) if assigned is not None else None, sent_at__gte=since)
    newest = list(messages.select_related("user").order_by("-id")[:HISTORY_LIMIT])
    roles = roles_in_session(member.session_id)
    return [
        events.chat_line(
            message_id=m.pk,
            text=m.text,
            sent_at=m.sent_at,
            client_id=m.client_id,
            breakout=m.breakout,
            user={"id": m.user_id, "name": display_name(m.user), "role": roles.get(m.user_id)},  # type: ignore[typeddict-item]
        )
        for m in reversed(newest)
    ]

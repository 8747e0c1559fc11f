"""Catching a socket up after it missed frames (a reconnect, a ``resume``).

Within the room's Redis log, a resume replays exactly the frames after ``last_seq`` that
the socket may see, in order, up to the state it started from (newer ones arrive live).
Beyond it, the socket is told to ``resync``: a fresh ``room.state`` and, after a gap, the
recent chat from PostgreSQL by id (clients de-duplicate by id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import orjson

from sessions.rooms import chat, events, state, store
from sessions.rooms.members import SocketView

# Frames are encoded with orjson, which keeps the key order: "type" first.
_CHAT_FRAME_START = '{"type":"chat.message",'


@dataclass(frozen=True)
class CatchUp:
    """What to send, in order: logged frames to replay; or a resync (its reason, the fresh
    state, and the chat history when the socket had a gap to fill)."""

    replay: list[str] = field(default_factory=list)
    resync: events.Resync | None = None
    state: events.RoomState | None = None
    history: events.ChatHistory | None = None


def catch_up(*, view: SocketView, last_seq: int) -> CatchUp:
    if last_seq >= view.state_seq:
        if last_seq > max(view.state_seq, view.last_sent_seq):  # numbers this room never gave
            return resync(view=view, reason="counter_reset", with_history=False)
        return CatchUp()
    log = store.log_entries(view.member.session_id)
    if not log or log[0].seq > last_seq + 1:
        return resync(view=view, reason="too_far_behind", with_history=True)
    since = chat.first_admitted_at(view.member)
    return CatchUp(
        replay=[
            entry.frame_text
            for entry in log
            if last_seq < entry.seq <= view.state_seq
            and view.sees(entry.audience)
            and (since is None or not _chat_before(entry.frame_text, since))
        ]
    )


def resync(
    *,
    view: SocketView,
    reason: Literal["too_far_behind", "counter_reset", "server_reconnecting"],
    with_history: bool,
) -> CatchUp:
    fresh = state.room_state(member=view.member)
    history = None
    if with_history and view.admitted:
        history = events.chat_history(chat.recent_chat(member=view.member))
    return CatchUp(resync=events.resync(reason), state=fresh, history=history)


def _chat_before(frame_text: str, moment: datetime) -> bool:
    """A logged chat line sent before ``moment`` (a participant's first admission)."""
    if not frame_text.startswith(_CHAT_FRAME_START):
        return False
    return datetime.fromisoformat(orjson.loads(frame_text)["sent_at"]) < moment

"""What a room's change means for the LiveKit SFU when the media goes through one
(MEDIA_BACKEND=livekit): Celery tasks (sessions/sfu_tasks.py) queued once the change
committed, never on the socket's path. A removed person leaves every LiveKit room of the
session, a muted one has their microphone muted there, and a person whose part of the room
changed (breakouts opened, changed or closed) leaves the LiveKit room of their old part, so
nobody keeps hearing a room they were moved out of; their client asks the media endpoint
for the new room's token. In mesh mode there is nothing to do: the relay reads the room's
state at every frame (signaling.py)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from server.redis_client import get_redis
from sessions.rooms.store import RoomKeys
from sessions.sfu import room_name
from sessions.sfu_tasks import sfu_mute_participant, sfu_remove_participant

log = logging.getLogger("iop.media")


def _livekit() -> bool:
    return settings.MEDIA_BACKEND == "livekit"


def _rooms_of(session_id: int, user_id: int) -> list[str]:
    """The LiveKit rooms the person may be in: the main room, and their breakout's."""
    breakout = get_redis().hget(RoomKeys(session_id).breakouts, str(user_id))
    return [room_name(session_id)] + ([room_name(session_id, int(breakout))] if breakout is not None else [])


def _queue_on_commit(task: Any, user_id: int, rooms: list[str]) -> None:
    # Robust: a broker that is down does not undo the room's change (it is logged).
    transaction.on_commit(lambda: task.delay(user_id, rooms), robust=True)


def mute_on_commit(session_id: int, user_id: int) -> None:
    if _livekit():
        _queue_on_commit(sfu_mute_participant, user_id, _rooms_of(session_id, user_id))


def remove_on_commit(session_id: int, user_id: int) -> None:
    """Call before the person's room state is forgotten (it names their breakout)."""
    if _livekit():
        _queue_on_commit(sfu_remove_participant, user_id, _rooms_of(session_id, user_id))


def regrouped(session_id: int, before: dict[str, int], after: dict[str, int]) -> None:
    """Breakout assignments changed (user id -> breakout number; absent: the main room).
    Called after the change committed and was announced."""
    if not _livekit():
        return
    for user_id in sorted(set(before) | set(after), key=int):
        old, new = before.get(user_id), after.get(user_id)
        if old == new:
            continue
        try:
            sfu_remove_participant.delay(int(user_id), [room_name(session_id, old)])
        except Exception:
            log.warning("queuing an SFU room change failed", exc_info=True)

"""Raising and lowering a hand: live state only (Redis), announced to the room."""

from __future__ import annotations

from server.redis_client import get_redis
from sessions.rooms import events
from sessions.rooms.broadcast import broadcast
from sessions.rooms.members import RoomActionError, RoomMember
from sessions.rooms.store import RoomKeys


def set_hand(*, member: RoomMember, raised: bool) -> None:
    keys = RoomKeys(member.session_id)
    redis = get_redis()
    if not (member.is_host or redis.sismember(keys.admitted, str(member.user_id))):
        raise RoomActionError("not_admitted", "You are in the waiting room.")
    changed = redis.sadd(keys.hands, member.user_id) if raised else redis.srem(keys.hands, member.user_id)
    if changed:
        broadcast(member.session_id, "room", events.hand(raised=raised, user=member.public()))

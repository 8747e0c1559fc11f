"""Who is in a live room, in Redis: sockets (presence, by heartbeat), the waiting queue,
admissions, the grace period after leaving, and the live-room set. Keys and scripts only;
the rules live in presence.py and host.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from server.redis_client import get_redis
from sessions.rooms.store import (
    KEY_TTL_SECONDS,
    LIVE_ROOMS_KEY,
    RoomKeys,
    forget_live_room,
    live_room_ids,
    registered_script,
)

# KEYS: presence, live rooms, gone, admitted, waiting, breakouts. ARGV: member, now, user
# prefix, ttl, session id, user id, "host" or "participant", admit directly ("1"/"0"),
# grace seconds. Adds one socket and settles the person's place, in one step so two tabs
# arriving together cannot both find themselves first or split admitted from waiting:
# a participant gone longer than the grace period starts afresh (not admitted, out of
# the queue and of any breakout); one still within it keeps their admission or their
# place in the queue. Returns {1 if it is the person's first socket else 0,
# 1 if admitted else 0}.
_ENTER = """
local others = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, string.len(ARGV[3])) == ARGV[3] and member ~= ARGV[1] then others = others + 1 end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
local admitted = 1
if ARGV[7] ~= 'host' then
  local gone_at = redis.call('ZSCORE', KEYS[3], ARGV[6])
  if gone_at and tonumber(ARGV[2]) - tonumber(gone_at) > tonumber(ARGV[9]) then
    redis.call('SREM', KEYS[4], ARGV[6])
    redis.call('ZREM', KEYS[5], ARGV[6])
    redis.call('HDEL', KEYS[6], ARGV[6])
  end
  if ARGV[8] == '1' or redis.call('SISMEMBER', KEYS[4], ARGV[6]) == 1 then
    redis.call('SADD', KEYS[4], ARGV[6])
  else
    admitted = 0
    redis.call('ZADD', KEYS[5], 'NX', ARGV[2], ARGV[6])
  end
end
redis.call('ZREM', KEYS[3], ARGV[6])
local first = 0
if others == 0 then first = 1 end
return {first, admitted}
"""

# KEYS: presence. ARGV: member, user prefix. Removes one socket; returns 1 when it was
# the user's last socket in the room, 0 when others remain, -1 when it was not there
# (already swept), so each departure is announced exactly once.
_REMOVE_CONNECTION = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return -1 end
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, 1, string.len(ARGV[2])) == ARGV[2] then return 0 end
end
return 1
"""


def _prefix(user_id: int) -> str:
    return f"{user_id}:"


def member(user_id: int, conn_id: str) -> str:
    return f"{user_id}:{conn_id}"


def user_of(member_name: bytes | str) -> int:
    text = member_name.decode() if isinstance(member_name, bytes) else member_name
    return int(text.split(":", 1)[0])


@dataclass(frozen=True)
class Arrival:
    first: bool  # the person's first socket in the room
    admitted: bool


def enter(
    session_id: int, user_id: int, conn_id: str, *, host: bool, admit_directly: bool, grace_seconds: float
) -> Arrival:
    """Add one socket to the room and settle the person's place (the _ENTER script)."""
    keys = RoomKeys(session_id)
    first, admitted = registered_script(_ENTER)(
        keys=[keys.presence, LIVE_ROOMS_KEY, keys.gone, keys.admitted, keys.waiting, keys.breakouts],
        args=[
            member(user_id, conn_id),
            time.time(),
            _prefix(user_id),
            KEY_TTL_SECONDS,
            session_id,
            user_id,
            "host" if host else "participant",
            "1" if admit_directly else "0",
            grace_seconds,
        ],
    )
    return Arrival(first=bool(first), admitted=bool(admitted))


def remove_connection(session_id: int, user_id: int, conn_id: str) -> int:
    return int(
        registered_script(_REMOVE_CONNECTION)(
            keys=[RoomKeys(session_id).presence], args=[member(user_id, conn_id), _prefix(user_id)]
        )
    )


def refresh_pipeline(pipe: Any, members_by_room: dict[int, list[str]], now: float) -> None:
    """Queue the heartbeat of a process's sockets on a (sync or async) pipeline. XX: a
    socket that was swept or removed meanwhile is not brought back."""
    for session_id, members in members_by_room.items():
        pipe.zadd(RoomKeys(session_id).presence, dict.fromkeys(members, now), xx=True)
        pipe.zadd(LIVE_ROOMS_KEY, {str(session_id): now})


def zset_members(key: str) -> list[bytes]:
    """Members of a sorted set, lowest score first."""
    return cast(list[bytes], get_redis().zrange(key, 0, -1))


def present_user_ids(session_id: int) -> set[int]:
    return {user_of(m) for m in zset_members(RoomKeys(session_id).presence)}


def stale_connections_by_room(older_than: float) -> dict[int, list[tuple[str, float]]]:
    """Sockets not refreshed since ``older_than``, with their last heartbeat, oldest first,
    per live room (one pipeline). Rooms with nobody left are dropped from the live set."""
    redis = get_redis()
    room_ids = live_room_ids()
    pipe = redis.pipeline(transaction=False)
    for session_id in room_ids:
        pipe.zrangebyscore(RoomKeys(session_id).presence, "-inf", older_than, withscores=True)
        pipe.zcard(RoomKeys(session_id).presence)
    replies = pipe.execute()
    stale: dict[int, list[tuple[str, float]]] = {}
    for index, session_id in enumerate(room_ids):
        members, count = replies[2 * index], replies[2 * index + 1]
        if members:
            stale[session_id] = [(m.decode(), float(score)) for m, score in members]
        elif count == 0:
            forget_live_room(session_id)
    return stale


def forget_user(session_id: int, user_id: int) -> None:
    """A removed person leaves every part of the room's live state at once."""
    keys = RoomKeys(session_id)
    redis = get_redis()
    sockets = [m for m in zset_members(keys.presence) if user_of(m) == user_id]
    pipe = redis.pipeline()
    if sockets:
        pipe.zrem(keys.presence, *sockets)
    pipe.srem(keys.admitted, user_id)
    pipe.zrem(keys.waiting, user_id)
    pipe.srem(keys.hands, user_id)
    pipe.hdel(keys.breakouts, str(user_id))
    pipe.execute()

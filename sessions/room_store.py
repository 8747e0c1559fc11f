"""Live-room state in Redis: sequence numbers, the replay log, presence, waiting room,
admissions, hands and breakouts. Keys only; the rules live in room_services.py.

A broadcast is one Lua call: INCR the room's seq, append the frame to the bounded log and
PUBLISH it once on the room's channel. Every process with sockets in the room receives
it once and hands the same text to each local socket that should see it (room_hub.py),
so the cost per broadcast does not grow with the room.

Log and channel entries look like ``<seq>\\t<audience>\\t<control>\\n<frame json>``;
audience says who sees the frame (see ``RoomConsumer.wants``), control is an optional
small JSON object that changes socket state (admit, remove, end, breakouts).
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

import orjson
import redis.asyncio as aioredis
from django.conf import settings
from redis.commands.core import AsyncScript, Script
from redis.exceptions import NoScriptError

from server.realtime import PUBSUB_PREFIX
from server.redis_client import get_async_redis, get_redis

# Keys expire a day after their last write, so a room forgotten by a crash cleans itself.
KEY_TTL_SECONDS = 24 * 3600
LIVE_ROOMS_KEY = "iop:rooms:live"


def channel_name(session_id: int) -> str:
    # Keys live in the selected db; channels do not (server/redis_urls.pubsub_prefix).
    return f"{PUBSUB_PREFIX}room:{session_id}"


@dataclass(frozen=True)
class RoomKeys:
    session_id: int

    def _key(self, part: str) -> str:
        return f"iop:room:{self.session_id}:{part}"

    @property
    def seq(self) -> str:
        return self._key("seq")

    @property
    def log(self) -> str:
        return self._key("log")

    @property
    def presence(self) -> str:
        """ZSET of ``<user>:<conn>`` scored by last heartbeat (epoch seconds)."""
        return self._key("presence")

    @property
    def waiting(self) -> str:
        """ZSET of user ids scored by first arrival: the waiting-room queue order."""
        return self._key("waiting")

    @property
    def admitted(self) -> str:
        return self._key("admitted")

    @property
    def gone(self) -> str:
        """ZSET of user ids scored by when their last socket left (grace period)."""
        return self._key("gone")

    @property
    def hands(self) -> str:
        return self._key("hands")

    @property
    def breakouts(self) -> str:
        """HASH user id -> breakout number."""
        return self._key("breakouts")

    @property
    def host(self) -> str:
        """The user id holding host controls now (empty when no host is present)."""
        return self._key("host")

    def all(self) -> list[str]:
        return [
            self.seq,
            self.log,
            self.presence,
            self.waiting,
            self.admitted,
            self.gone,
            self.hands,
            self.breakouts,
            self.host,
        ]


# KEYS: seq, log. ARGV: frame json without its closing brace, audience, control, channel,
# log length, key ttl, seq floor ("" = unknown). Returns the seq, or nil when the counter
# is missing and no floor was given (Redis lost its data): the caller supplies one.
_PUBLISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[7] == '' then return nil end
  redis.call('SET', KEYS[1], ARGV[7])
end
local seq = redis.call('INCR', KEYS[1])
local entry = seq .. '\\t' .. ARGV[2] .. '\\t' .. ARGV[3] .. '\\n' .. ARGV[1] .. ',"seq":' .. seq .. '}'
redis.call('RPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
redis.call('PUBLISH', ARGV[4], entry)
return seq
"""

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


@cache
def _script(source: str) -> Script:
    """Registered once per process; redis-py reloads it if Redis restarted (NOSCRIPT)."""
    return get_redis().register_script(source)


def _prefix(user_id: int) -> str:
    return f"{user_id}:"


def member(user_id: int, conn_id: str) -> str:
    return f"{user_id}:{conn_id}"


def user_of(member_name: bytes | str) -> int:
    text = member_name.decode() if isinstance(member_name, bytes) else member_name
    return int(text.split(":", 1)[0])


def _publish_arguments(
    session_id: int, audience: str, frame: dict[str, Any], control: dict[str, Any] | None, seq_floor: int | None
) -> tuple[list[Any], list[Any]]:
    """The _PUBLISH script's keys and arguments."""
    keys = RoomKeys(session_id)
    return [keys.seq, keys.log], [
        orjson.dumps(frame)[:-1],
        audience,
        orjson.dumps(control).decode() if control else "",
        channel_name(session_id),
        settings.ROOM_LOG_LENGTH,
        KEY_TTL_SECONDS,
        "" if seq_floor is None else str(seq_floor),
    ]


def publish(
    session_id: int,
    audience: str,
    frame: dict[str, Any],
    *,
    control: dict[str, Any] | None = None,
    seq_floor: int | None = None,
) -> int | None:
    """Broadcast one frame to a room; its seq, or None if the counter must be re-seeded."""
    keys, args = _publish_arguments(session_id, audience, frame, control, seq_floor)
    seq = _script(_PUBLISH)(keys=keys, args=args)
    return None if seq is None else int(seq)


async def open_breakout_numbers(session_id: int) -> set[int]:
    """The room's open breakout rooms, on the event loop's client. (redis-py does not retry
    commands here, but its pool replaces a pooled connection the server closed, as after a
    Redis restart, before sending on it.)"""
    assignments = await get_async_redis().hgetall(RoomKeys(session_id).breakouts)
    return {int(number) for number in assignments.values()}


_async_publish_scripts: weakref.WeakKeyDictionary[aioredis.Redis, AsyncScript] = weakref.WeakKeyDictionary()


def _async_publish_script(client: aioredis.Redis) -> AsyncScript:
    script = _async_publish_scripts.get(client)
    if script is None:
        script = _async_publish_scripts[client] = client.register_script(_PUBLISH)
    return script


async def publish_async(
    session_id: int, audience: str, frame: dict[str, Any], *, seq_floor: int | None = None
) -> int | None:
    """``publish`` on the event loop's own Redis client (the chat hot path)."""
    keys, args = _publish_arguments(session_id, audience, frame, None, seq_floor)
    seq = await _async_publish_script(get_async_redis())(keys=keys, args=args)
    return None if seq is None else int(seq)


@dataclass(frozen=True)
class Broadcast:
    session_id: int
    audience: str
    frame: dict[str, Any]


async def publish_many_async(broadcasts: list[Broadcast]) -> list[int | Exception | None]:
    """``publish_async`` for several frames in one round trip (a pipeline, not a
    transaction), run in order. Each result is the frame's seq, None (re-seed the counter)
    or the error of that one call. A connection error fails them all, as a publish's does."""
    client = get_async_redis()
    script = _async_publish_script(client)
    pipe = client.pipeline(transaction=False)
    for broadcast in broadcasts:
        keys, args = _publish_arguments(broadcast.session_id, broadcast.audience, broadcast.frame, None, None)
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    results: list[Any] = await pipe.execute(raise_on_error=False)
    for index, result in enumerate(results):
        if isinstance(result, NoScriptError):
            # Redis restarted and forgot the script: that call did not run. Run it alone,
            # which loads the script. (Not a pipeline with the script registered: that
            # costs an extra SCRIPT EXISTS round trip on every batch.)
            b = broadcasts[index]
            try:
                results[index] = await publish_async(b.session_id, b.audience, b.frame)
            except Exception as exc:  # that one call's outcome, like the others'
                results[index] = exc
    return [result if isinstance(result, Exception) or result is None else int(result) for result in results]


@dataclass(frozen=True)
class LogEntry:
    seq: int
    audience: str
    control: dict[str, Any] | None
    frame_text: str

    @property
    def is_chat(self) -> bool:
        return self.frame_text.startswith(_CHAT_FRAME_START)


# Frames are encoded with orjson, which keeps the key order: "type" first.
_CHAT_FRAME_START = '{"type":"chat.message",'


def parse_entry(raw: bytes | str) -> LogEntry:
    text = raw.decode() if isinstance(raw, bytes) else raw
    header, frame_text = text.split("\n", 1)
    seq, audience, control = header.split("\t", 2)
    return LogEntry(int(seq), audience, orjson.loads(control) if control else None, frame_text)


def log_entries(session_id: int) -> list[LogEntry]:
    return [parse_entry(raw) for raw in get_redis().lrange(RoomKeys(session_id).log, 0, -1)]


def logged_chat_seqs(session_id: int) -> dict[int, int]:
    """The seq of every chat message whose broadcast the room's log still holds, by id."""
    return {orjson.loads(entry.frame_text)["id"]: entry.seq for entry in log_entries(session_id) if entry.is_chat}


@dataclass(frozen=True)
class Arrival:
    first: bool  # the person's first socket in the room
    admitted: bool


def enter(
    session_id: int, user_id: int, conn_id: str, *, host: bool, admit_directly: bool, grace_seconds: float
) -> Arrival:
    """Add one socket to the room and settle the person's place (the _ENTER script)."""
    keys = RoomKeys(session_id)
    first, admitted = _script(_ENTER)(
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
        _script(_REMOVE_CONNECTION)(
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


def stale_connections_by_room(older_than: float) -> dict[int, list[str]]:
    """Sockets not refreshed since ``older_than``, per live room (one pipeline). Rooms
    with nobody left are dropped from the live set."""
    redis = get_redis()
    room_ids = live_room_ids()
    pipe = redis.pipeline(transaction=False)
    for session_id in room_ids:
        pipe.zrangebyscore(RoomKeys(session_id).presence, "-inf", older_than)
        pipe.zcard(RoomKeys(session_id).presence)
    replies = pipe.execute()
    stale: dict[int, list[str]] = {}
    for index, session_id in enumerate(room_ids):
        members, count = replies[2 * index], replies[2 * index + 1]
        if members:
            stale[session_id] = [m.decode() for m in members]
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


def live_room_ids() -> list[int]:
    return [int(raw) for raw in zset_members(LIVE_ROOMS_KEY)]


def forget_live_room(session_id: int) -> None:
    get_redis().zrem(LIVE_ROOMS_KEY, str(session_id))


def delete_room(session_id: int) -> None:
    """Drop presence and room state; the seq counter and log stay (until they expire) so
    late resumes still get `session.ended`."""
    keys = RoomKeys(session_id)
    redis = get_redis()
    redis.delete(keys.presence, keys.waiting, keys.admitted, keys.gone, keys.hands, keys.breakouts, keys.host)
    redis.zrem(LIVE_ROOMS_KEY, str(session_id))

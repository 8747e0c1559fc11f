"""Live-room state in Redis: the room's stream (seq counter, bounded replay log, the seq
of each chat line broadcast), presence, waiting room, admissions, hands and breakouts.
Keys and scripts only; the rules live in the other modules of sessions/rooms/.

A broadcast is one Lua call: INCR the room's seq, append the frame to the bounded log and
PUBLISH it once on the room's channel. Every process with sockets in the room receives
it once and hands the same text to each local socket that should see it (hub.py), so
the cost per broadcast does not grow with the room.

The seq lives here only (DESIGN.md): chat history in PostgreSQL is read by id. A missing
counter (a new room, or Redis lost its data) starts from the current time in
milliseconds, so numbers keep increasing across a loss without asking PostgreSQL: a room
would need over a thousand frames a second, sustained, to overtake the clock. A chat
line's broadcast records its seq under its id in the same call, and a second broadcast
of the same id publishes nothing and returns the first seq: a line is broadcast once
however many processes re-send it.

Log and channel entries look like ``<seq>\\t<audience>\\t<control>\\n<frame json>``;
audience says who sees the frame (see ``members.SocketView.sees``), control is an optional
small JSON object that changes socket state (admit, remove, end, breakouts).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Mapping
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


def rtc_channel_name(session_id: int) -> str:
    """Mesh signaling frames, each addressed to one user (signaling.py); not the stream."""
    return f"{PUBSUB_PREFIX}rtc:{session_id}"


class RoomKeys:
    """A room's Redis keys. The stream: ``seq`` (counter), ``log`` (LIST of entries),
    ``chat_seqs`` (HASH chat message id -> seq). Who is where: ``presence`` (ZSET of
    ``<user>:<conn>`` by last heartbeat), ``waiting`` (ZSET of user ids by first arrival,
    the queue order), ``admitted`` (SET), ``gone`` (ZSET of user ids by when their last
    socket left, for the grace period), ``hands`` (SET), ``breakouts`` (HASH user id ->
    breakout number) and ``host`` (the user holding host controls, "" when none)."""

    __slots__ = ("admitted", "breakouts", "chat_seqs", "gone", "hands", "host", "log", "presence", "seq", "waiting")

    def __init__(self, session_id: int) -> None:
        prefix = f"iop:room:{session_id}:"
        self.seq, self.log, self.chat_seqs = prefix + "seq", prefix + "log", prefix + "chatseq"
        self.presence, self.waiting, self.admitted = prefix + "presence", prefix + "waiting", prefix + "admitted"
        self.gone, self.hands, self.breakouts, self.host = (
            prefix + "gone", prefix + "hands", prefix + "breakouts", prefix + "host",
        )  # fmt: skip


# KEYS: seq, log, chat seqs. ARGV: frame json without its closing brace, audience,
# control, channel, log length, key ttl, seed (now in ms), chat message id ("" if not a
# chat line). Returns {seq, 1}, or {the earlier seq, 0} for a chat line broadcast before.
_PUBLISH = """
if ARGV[8] ~= '' then
  local known = redis.call('HGET', KEYS[3], ARGV[8])
  if known then return {tonumber(known), 0} end
end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[7]) end
local seq = redis.call('INCR', KEYS[1])
local entry = seq .. '\\t' .. ARGV[2] .. '\\t' .. ARGV[3] .. '\\n' .. ARGV[1] .. ',"seq":' .. seq .. '}'
redis.call('RPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[8], seq)
  redis.call('EXPIRE', KEYS[3], ARGV[6])
end
redis.call('PUBLISH', ARGV[4], entry)
return {seq, 1}
"""


@cache
def registered_script(source: str) -> Script:
    """Registered once per process; redis-py reloads it if Redis restarted (NOSCRIPT)."""
    return get_redis().register_script(source)


@dataclass(frozen=True)
class Broadcast:
    session_id: int
    audience: str
    frame: Mapping[str, Any]
    control: Mapping[str, Any] | None = None
    chat_id: int | None = None  # a chat line: broadcast once, however often it is sent


@dataclass(frozen=True)
class Published:
    seq: int
    new: bool  # False: a chat line broadcast before, under this seq; nothing was sent now


def _publish_arguments(b: Broadcast) -> tuple[list[Any], list[Any]]:
    """The _PUBLISH script's keys and arguments."""
    keys = RoomKeys(b.session_id)
    return [keys.seq, keys.log, keys.chat_seqs], [
        orjson.dumps(b.frame)[:-1],
        b.audience,
        orjson.dumps(b.control).decode() if b.control else "",
        channel_name(b.session_id),
        settings.ROOM_LOG_LENGTH,
        KEY_TTL_SECONDS,
        time.time_ns() // 1_000_000,
        "" if b.chat_id is None else b.chat_id,
    ]


def _published(reply: Any) -> Published:
    seq, new = reply
    return Published(int(seq), bool(new))


def publish(broadcast: Broadcast) -> Published:
    """Broadcast one frame to a room (call after commit)."""
    keys, args = _publish_arguments(broadcast)
    return _published(registered_script(_PUBLISH)(keys=keys, args=args))


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


async def publish_async(broadcast: Broadcast) -> Published:
    """``publish`` on the event loop's own Redis client (the chat hot path)."""
    keys, args = _publish_arguments(broadcast)
    return _published(await _async_publish_script(get_async_redis())(keys=keys, args=args))


async def publish_many_async(broadcasts: list[Broadcast]) -> list[Published | Exception]:
    """``publish_async`` for several frames in one round trip (a pipeline, not a
    transaction), run in order. Each result is the frame's outcome or the error of that
    one call. A connection error fails them all, as a publish's does."""
    client = get_async_redis()
    script = _async_publish_script(client)
    pipe = client.pipeline(transaction=False)
    for broadcast in broadcasts:
        keys, args = _publish_arguments(broadcast)
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    results: list[Any] = await pipe.execute(raise_on_error=False)
    for index, result in enumerate(results):
        if isinstance(result, NoScriptError):
            # Redis restarted and forgot the script: that call did not run. Run it alone,
            # which loads the script. (Not a pipeline with the script registered: that
            # costs an extra SCRIPT EXISTS round trip on every batch.)
            try:
                results[index] = await publish_async(broadcasts[index])
            except Exception as exc:  # that one call's outcome, like the others'
                results[index] = exc
    return [r if isinstance(r, Exception | Published) else _published(r) for r in results]


@dataclass(frozen=True)
class LogEntry:
    seq: int
    audience: str
    control: dict[str, Any] | None
    frame_text: str


def parse_entry(raw: bytes | str) -> LogEntry:
    text = raw.decode() if isinstance(raw, bytes) else raw
    header, frame_text = text.split("\n", 1)
    seq, audience, control = header.split("\t", 2)
    return LogEntry(int(seq), audience, orjson.loads(control) if control else None, frame_text)


def log_entries(session_id: int) -> list[LogEntry]:
    return [parse_entry(raw) for raw in get_redis().lrange(RoomKeys(session_id).log, 0, -1)]


def live_room_ids() -> list[int]:
    return [int(raw) for raw in cast(list[bytes], get_redis().zrange(LIVE_ROOMS_KEY, 0, -1))]


def forget_live_room(session_id: int) -> None:
    get_redis().zrem(LIVE_ROOMS_KEY, str(session_id))


def delete_room(session_id: int) -> None:
    """Drop presence and room state; the seq counter and log stay (until they expire) so
    late resumes still get `session.ended`."""
    keys = RoomKeys(session_id)
    redis = get_redis()
    redis.delete(keys.presence, keys.waiting, keys.admitted, keys.gone, keys.hands, keys.breakouts, keys.host)
    redis.zrem(LIVE_ROOMS_KEY, str(session_id))

"""Mesh media signaling: a client's ``rtc.offer``, ``rtc.answer`` or ``rtc.ice`` goes to one
person's sockets in the same part of the room as the sender (the main room, or the same
breakout), with ``from`` added.

Signaling is not room state: nothing is numbered or kept in the replay log, and nobody but
the addressee sees it. One Lua call reads where sender and addressee are (presence,
admissions, breakouts) and publishes the frame on the room's rtc channel addressed to that
user (store.rtc_channel_name); each process's hub hands it to its own sockets of that user
only (hub.py). A frame to someone who left, waits, or is in another part of the room is
refused with an ``error`` frame, never published.

A person's part of the room: hosts are in the main room; an admitted participant is in
their breakout, or the main room. Mesh media is for parts of at most
MESH_MAX_PARTICIPANTS people (each browser sends its streams to every other): in a larger
one the frames are refused and the media endpoint says the room needs the SFU.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Literal

import orjson
import redis.asyncio as aioredis
from django.conf import settings
from redis.commands.core import AsyncScript

from server.redis_client import get_async_redis
from sessions.rooms import events, store
from sessions.rooms.members import RoomActionError, RoomMember, SocketView
from sessions.rooms.store import RoomKeys

# The inbound frames of mesh signaling: a room socket's FrameGate counts them toward their
# own budget (WS_SIGNALING_FRAMES_PER_MINUTE), apart from chat and pings.
FRAME_TYPES = frozenset({"rtc.offer", "rtc.answer", "rtc.ice"})

# KEYS: presence, admitted, breakouts. ARGV: sender id, addressee id ("" to count only),
# ",<host id>,...," (the session's hosts), the room's rtc channel, the frame, the mesh
# limit. A present person's part is "" (main room) or their breakout number; waiting
# people have none. Returns {status, people in the sender's part}: status 0 published
# (or counted), -1 sender not in the room, -2 addressee not in the room, -3 addressee in
# another part, -4 the part is larger than the mesh limit. Counting for a host not
# connected yet counts them in the main room.
_RELAY = """
local hosts = ARGV[3]
local function is_host(uid) return string.find(hosts, ',' .. uid .. ',', 1, true) ~= nil end
local parts = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local uid = string.match(member, '^(%d+):')
  if uid and parts[uid] == nil then
    if is_host(uid) then
      parts[uid] = ''
    elseif redis.call('SISMEMBER', KEYS[2], uid) == 1 then
      parts[uid] = redis.call('HGET', KEYS[3], uid) or ''
    else
      parts[uid] = false
    end
  end
end
local mine = parts[ARGV[1]]
local count = 0
if not mine then
  if ARGV[2] ~= '' or not is_host(ARGV[1]) then return {-1, 0} end
  mine = ''
  count = 1
end
for _, part in pairs(parts) do
  if part == mine then count = count + 1 end
end
if ARGV[2] == '' then return {0, count} end
local theirs = parts[ARGV[2]]
if not theirs then return {-2, count} end
if theirs ~= mine then return {-3, count} end
if count > tonumber(ARGV[6]) then return {-4, count} end
redis.call('PUBLISH', ARGV[4], ARGV[2] .. '\\t' .. mine .. '\\n' .. ARGV[5])
return {0, count}
"""

SFU_ONLY = ("sfu_required", "This server carries media through its SFU: join with the token from the media endpoint.")
_REFUSALS = {
    -1: ("not_admitted", "You are not in the room."),
    -2: ("not_present", "That person is not in the room."),
    -3: ("not_in_your_room", "That person is in another part of the room (a breakout or the main room)."),
}


_async_scripts: weakref.WeakKeyDictionary[aioredis.Redis, AsyncScript] = weakref.WeakKeyDictionary()


def _async_relay_script(client: aioredis.Redis) -> AsyncScript:
    script = _async_scripts.get(client)
    if script is None:
        script = _async_scripts[client] = client.register_script(_RELAY)
    return script


def part_name(breakout: int | None) -> str:
    """How the relay names a part of the room: "" for the main room, else the breakout."""
    return "" if breakout is None else str(breakout)


def _hosts_argument(member: RoomMember) -> str:
    return "," + "".join(f"{uid}," for uid in sorted(member.host_ids))


def _arguments(member: RoomMember, to: int | None, frame: bytes) -> tuple[list[str], list[str | int | bytes]]:
    keys = RoomKeys(member.session_id)
    return [keys.presence, keys.admitted, keys.breakouts], [
        member.user_id,
        "" if to is None else to,
        _hosts_argument(member),
        store.rtc_channel_name(member.session_id),
        frame,
        settings.MESH_MAX_PARTICIPANTS,
    ]


def _mesh_too_large(count: int) -> RoomActionError:
    return RoomActionError(
        "sfu_required",
        f"{count} people are in this part of the room; mesh media takes at most "
        f"{settings.MESH_MAX_PARTICIPANTS}: the room needs the SFU.",
    )


async def relay(
    *,
    view: SocketView,
    kind: Literal["rtc.offer", "rtc.answer", "rtc.ice"],
    to: int,
    sdp: str | None = None,
    candidate: events.IceCandidate | None = None,
) -> None:
    """Send one signaling frame to ``to``'s sockets, on the event loop (one Redis call)."""
    member = view.member
    if settings.MEDIA_BACKEND != "mesh":
        raise RoomActionError(*SFU_ONLY)
    if not view.admitted:
        raise RoomActionError("not_admitted", "You are in the waiting room.")
    if to == member.user_id:
        raise RoomActionError("invalid", "to: a frame to yourself has no peer.")
    if kind == "rtc.ice":
        assert candidate is not None
        frame: events.RtcDescription | events.RtcCandidate = events.rtc_candidate(
            sender=member.user_id, candidate=candidate
        )
    else:
        assert sdp is not None
        frame = events.rtc_description(kind, sender=member.user_id, sdp=sdp)
    keys, args = _arguments(member, to, orjson.dumps(frame))
    status, count = await _async_relay_script(get_async_redis())(keys=keys, args=args)
    if status == -4:
        raise _mesh_too_large(int(count))
    if status in _REFUSALS:
        raise RoomActionError(*_REFUSALS[status])


@dataclass(frozen=True)
class Addressed:
    """A relayed frame as the hub reads it off the rtc channel."""

    to: int
    part: str
    frame_text: str


def parse_addressed(data: bytes) -> Addressed:
    header, frame_text = data.decode().split("\n", 1)
    to, part = header.split("\t", 1)
    return Addressed(int(to), part, frame_text)


def people_in_my_part(member: RoomMember) -> int:
    """How many people are in the member's part of the room now (the media endpoint asks
    before it hands out mesh settings). 0: the member is not in the room."""
    keys, args = _arguments(member, None, b"")
    status, count = store.registered_script(_RELAY)(keys=keys, args=args)
    return 0 if status != 0 else int(count)

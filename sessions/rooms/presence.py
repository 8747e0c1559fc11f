"""Entering and leaving a live room, and sweeping up after dead processes.

Presence is per socket (presence_store.py); a person arrives with their first socket and
leaves with their last, so several tabs are one presence. Those arrivals and departures
are what the room announces, audits and records as attendance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction

from audit.services import record
from server.redis_client import get_redis
from sessions.models import Session
from sessions.rooms import attendance, events, host, presence_store, state
from sessions.rooms.access import member_for
from sessions.rooms.broadcast import broadcast_on_commit
from sessions.rooms.members import RoomMember
from sessions.rooms.store import RoomKeys


def socket_name(user_id: int, conn_id: str) -> str:
    """A socket's name in the room's presence set."""
    return presence_store.member(user_id, conn_id)


@dataclass(frozen=True)
class RoomEntry:
    admitted: bool
    state: events.RoomState


def enter_room(*, member: RoomMember, conn_id: str) -> RoomEntry:
    """A socket joins. The person's first socket is announced, recorded and audited;
    later tabs join silently. A participant back within the grace period keeps their
    place in the queue or their admission."""
    arrival = presence_store.enter(
        member.session_id, member.user_id, conn_id,
        host=member.is_host, admit_directly=member.admit_directly, grace_seconds=settings.ROOM_GRACE_SECONDS,
    )  # fmt: skip
    if arrival.first:
        with transaction.atomic():
            if arrival.admitted:
                attendance.open_segment(session_id=member.session_id, user_id=member.user_id)
                broadcast_on_commit(member.session_id, "room", events.presence("presence.joined", member.public()))
            else:
                broadcast_on_commit(member.session_id, "staff", events.presence("waiting.joined", member.public()))
            # Last in the transaction: the audit chain's lock is held until commit.
            record(
                actor=member.actor(),
                action="session.join",
                target=Session(pk=member.session_id),
                data={"waiting": not arrival.admitted},
            )
        if member.is_host:
            host.update_host(member=member)
    return RoomEntry(admitted=arrival.admitted, state=state.room_state(member=member))


def leave_room(*, member: RoomMember, conn_id: str, reason: str) -> None:
    """A socket closed. Only the person's last socket counts as leaving."""
    if presence_store.remove_connection(member.session_id, member.user_id, conn_id) == 1:
        _depart(member=member, reason=reason)


def _depart(*, member: RoomMember, reason: str, last_heard: float | None = None) -> None:
    """The person's last socket left (or, ``last_heard``: was last heard from then)."""
    keys = RoomKeys(member.session_id)
    redis = get_redis()
    redis.zadd(keys.gone, {str(member.user_id): last_heard or time.time()})
    redis.srem(keys.hands, member.user_id)
    admitted = member.is_host or bool(redis.sismember(keys.admitted, str(member.user_id)))
    with transaction.atomic():
        left_at = None if last_heard is None else datetime.fromtimestamp(last_heard, UTC)
        attendance.close_segments(session_id=member.session_id, reason=reason, user_id=member.user_id, at=left_at)
        record(
            actor=member.actor(),
            action="session.leave",
            target=Session(pk=member.session_id),
            data={"reason": reason},
        )
        if admitted:
            broadcast_on_commit(member.session_id, "room", events.presence("presence.left", member.public()))
        else:
            broadcast_on_commit(member.session_id, "staff", events.presence("waiting.left", member.public()))
    if member.is_host:
        host.update_host(member=member)


def sweep_stale_presence(*, now: float | None = None) -> int:
    """Remove sockets whose process stopped heartbeating (it died); announce and record
    the departure of people left with no socket, their attendance ending at their last
    heartbeat, not when the sweep noticed. Safe to run in every process at once: each
    stale socket is removed by exactly one caller."""
    cutoff = (time.time() if now is None else now) - settings.ROOM_PRESENCE_TIMEOUT_SECONDS
    departed = 0
    for session_id, stale in presence_store.stale_connections_by_room(cutoff).items():
        for name, last_heard in stale:  # oldest first: the last one removed was heard last
            user_id, conn_id = name.split(":", 1)
            if presence_store.remove_connection(session_id, int(user_id), conn_id) == 1:
                member = member_for(session_id, int(user_id))
                _depart(member=member, reason="timeout", last_heard=last_heard)
                departed += 1
    return departed

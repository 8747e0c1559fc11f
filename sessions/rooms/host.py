"""Host controls: who holds them, admitting from the waiting room, mute, remove, and
ending the session (by a host, or by the sweep once ``ends_at`` has passed)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from attendance.tasks import record_session_attendance
from audit.services import record
from server.redis_client import get_redis
from sessions.models import RoomRemoval, Session
from sessions.rooms import attendance, checkins, events, presence_store, sfu_sync, store
from sessions.rooms.access import facilitators
from sessions.rooms.broadcast import broadcast, broadcast_on_commit
from sessions.rooms.members import RoomActionError, RoomMember, user_audience
from sessions.rooms.state import public_of, roster_role
from sessions.rooms.store import RoomKeys


def controller_id(*, member: RoomMember) -> int | None:
    """Who holds host controls: the lead when present, else the present co-facilitator
    with the lowest id, else nobody. The session's facilitators are read now, not from
    the member's handshake: a group change may have replaced them since."""
    present = presence_store.present_user_ids(member.session_id)
    _, lead_id, co_ids = facilitators(member.session_id)
    if lead_id is not None and lead_id in present:
        return lead_id
    return min(co_ids & present, default=None)


def update_host(*, member: RoomMember) -> None:
    """After a host comes or goes: announce a change of who holds the controls, and tell
    waiting participants whether anyone is there to admit them."""
    controller = controller_id(member=member)
    previous = get_redis().getset(RoomKeys(member.session_id).host, "" if controller is None else str(controller))
    previous_id = int(previous) if previous else None
    if previous_id == controller:
        return
    broadcast(member.session_id, "all", events.host_changed(controller))
    if (previous_id is None) != (controller is None):
        broadcast(member.session_id, "waiting", events.waiting(host_present=controller is not None))


def ensure_controls(*, member: RoomMember) -> None:
    """Only the host holding the controls acts. (A host whose role was taken away has had
    their sockets closed already: server/realtime.py.)"""
    if not member.is_host:
        raise RoomActionError("forbidden", "Only the session's facilitators can do that.")
    if controller_id(member=member) != member.user_id:
        raise RoomActionError("forbidden", "The lead facilitator holds the host controls.")


def admit(*, member: RoomMember, user_id: int | None, everyone: bool = False) -> list[int]:
    """Admit one person on the roster (waiting or not yet arrived) or everyone waiting."""
    ensure_controls(member=member)
    keys = RoomKeys(member.session_id)
    redis = get_redis()
    present = presence_store.present_user_ids(member.session_id)
    if everyone:  # those waiting now, not people who left the queue (grace period)
        targets = [int(raw) for raw in presence_store.zset_members(keys.waiting) if int(raw) in present]
    else:
        assert user_id is not None
        roster_role(member.session_id, user_id)
        if RoomRemoval.objects.filter(session_id=member.session_id, user_id=user_id).exists():
            raise RoomActionError("removed", "That person was removed from this session.")
        targets = [user_id]
    # A participant who must still check in stays waiting (measures/checkin.py).
    targets = checkins.admissible(member.session_id, targets, single=not everyone)
    with transaction.atomic():
        for target in targets:
            newly = redis.sadd(keys.admitted, target)
            redis.zrem(keys.waiting, target)
            if not newly:
                continue
            record(
                actor=member.actor(),
                action="session.admit",
                target=Session(pk=member.session_id),
                data={"user": target},
            )
            broadcast_on_commit(member.session_id, user_audience(target), events.admitted(), {"admit": target})
            if target in present:
                attendance.open_segment(session_id=member.session_id, user_id=target)
                public = public_of(member.session_id, target)
                broadcast_on_commit(member.session_id, "staff", events.presence("waiting.left", public))
                broadcast_on_commit(member.session_id, "room", events.presence("presence.joined", public))
    return targets


def mute(*, member: RoomMember, user_id: int) -> None:
    """Everyone admitted sees the person muted; their own client mutes itself, and the SFU
    (when the room's media goes through one) stops forwarding their microphone."""
    ensure_controls(member=member)
    if user_id not in presence_store.present_user_ids(member.session_id):
        raise RoomActionError("not_present", "That person is not in the room.")
    with transaction.atomic():
        record(
            actor=member.actor(), action="session.mute", target=Session(pk=member.session_id), data={"user": user_id}
        )
        broadcast_on_commit(member.session_id, "room", events.muted(user=user_id, by=member.user_id))
        sfu_sync.mute_on_commit(member.session_id, user_id)


def remove(*, member: RoomMember, user_id: int) -> None:
    """Remove a person for the rest of this session: a final ``removed`` frame, close 4000,
    and no way back in."""
    ensure_controls(member=member)
    if user_id in facilitators(member.session_id)[0]:
        raise RoomActionError("forbidden", "Facilitators cannot be removed from the room.")
    roster_role(member.session_id, user_id)
    was_present = user_id in presence_store.present_user_ids(member.session_id)
    was_admitted = bool(get_redis().sismember(RoomKeys(member.session_id).admitted, str(user_id)))
    public = public_of(member.session_id, user_id)
    with transaction.atomic():
        removal, created = RoomRemoval.objects.get_or_create(
            session_id=member.session_id, user_id=user_id, defaults={"by_id": member.user_id}
        )
        if not created:
            raise RoomActionError("removed", "That person was already removed.")
        attendance.close_segments(session_id=member.session_id, reason="removed", user_id=user_id)
        record(actor=member.actor(), action="session.remove", target=removal, data={"user": user_id})
        broadcast_on_commit(member.session_id, user_audience(user_id), events.removed(), {"remove": user_id})
        sfu_sync.remove_on_commit(member.session_id, user_id)
        if was_present:
            if was_admitted:
                frame = events.presence("presence.left", public, removed=True)
            else:
                frame = events.presence("waiting.left", public, removed=True)
            broadcast_on_commit(member.session_id, "room" if was_admitted else "staff", frame)
    presence_store.forget_user(member.session_id, user_id)


def end_session(*, member: RoomMember) -> None:
    ensure_controls(member=member)
    _end(member.session_id, actor=member.actor())


def end_overdue_rooms(*, now: datetime | None = None) -> int:
    """End the live rooms of sessions whose ``ends_at`` has passed without a host ending
    them (CONTRACT.md: a session is open until a host ends it or ``ends_at`` passes):
    everyone gets ``session.ended``, sockets close, attendance closes now. Idempotent and
    safe to run in several workers at once (see _end)."""
    live = store.live_room_ids()
    if not live:
        return 0
    overdue = Session.objects.filter(pk__in=live, ends_at__lte=now or timezone.now(), ended_at__isnull=True)
    return sum(
        _end(session_id, actor=None, data={"reason": "ends_at_passed"})
        for session_id in overdue.values_list("pk", flat=True)
    )


def _end(session_id: int, *, actor: Any | None, data: dict[str, Any] | None = None) -> bool:
    """End the session once: the row lock makes a second caller find ended_at set."""
    with transaction.atomic():
        session = Session.objects.select_for_update().get(pk=session_id)
        if session.ended_at is not None:
            return False
        session.ended_at = timezone.now()
        session.save(update_fields=["ended_at"])
        attendance.close_segments(session_id=session.pk, reason="session_ended")
        record(actor=actor, action="session.end", target=session, data=data)
        transaction.on_commit(functools.partial(_announce_end, session.pk))
        transaction.on_commit(lambda: record_session_attendance.delay(session.pk), robust=True)
    return True


def _announce_end(session_id: int) -> None:
    broadcast(session_id, "all", events.session_ended(), {"end": True})
    store.delete_room(session_id)

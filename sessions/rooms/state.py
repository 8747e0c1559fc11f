"""The ``room.state`` frame: the whole room as one member may see it, read from Redis
(who is present, waiting, admitted, where) and PostgreSQL (the session, names, roles)."""

from __future__ import annotations

from datetime import UTC, datetime

from accounts.models import User
from server.redis_client import get_redis
from sessions.models import FacilitatorRole, RosterEntry, Session
from sessions.rooms import events
from sessions.rooms.checkins import checkins_for_hosts
from sessions.rooms.members import RoomActionError, RoomMember, display_name
from sessions.rooms.presence_store import user_of
from sessions.rooms.store import RoomKeys


def room_state(*, member: RoomMember) -> events.RoomState:
    """The ``room.state`` frame for this member. ``seq`` is read first, so every change
    after it arrives as a live frame."""
    keys = RoomKeys(member.session_id)
    pipe = get_redis().pipeline(transaction=False)
    pipe.get(keys.seq)  # first: Redis runs a pipeline's commands in order
    pipe.zrange(keys.presence, 0, -1)
    pipe.smembers(keys.admitted)
    pipe.smembers(keys.hands)
    pipe.hgetall(keys.breakouts)
    pipe.zrange(keys.waiting, 0, -1, withscores=True)
    pipe.get(keys.host)
    seq_raw, presence, admitted_raw, hands_raw, breakouts_raw, waiting_raw, host_raw = pipe.execute()
    admitted_ids = {int(raw) for raw in admitted_raw}
    hand_ids = {int(raw) for raw in hands_raw}
    breakouts = {int(uid): int(number) for uid, number in breakouts_raw.items()}
    present_ids = {user_of(name) for name in presence}
    session = Session.objects.get(pk=member.session_id)
    you_admitted = member.is_host or member.user_id in admitted_ids
    hosts = member.host_ids
    in_room = [uid for uid in present_ids if uid in hosts or uid in admitted_ids]
    waiting = [(int(uid), since) for uid, since in waiting_raw if int(uid) in present_ids]
    names = {
        user.pk: display_name(user)
        for user in User.objects.filter(pk__in=[*in_room, *(uid for uid, _ in waiting)]).only("id", "first_name")
    }
    roles = dict(RosterEntry.objects.filter(session_id=member.session_id).values_list("user_id", "role"))

    def person(uid: int) -> events.Person:
        role = FacilitatorRole.LEAD if uid == member.lead_id else FacilitatorRole.CO if uid in hosts else roles.get(uid)
        return {
            "id": uid,
            "name": names.get(uid, ""),
            "role": role,  # type: ignore[typeddict-item]
            "hand_raised": uid in hand_ids,
            "breakout": breakouts.get(uid),
        }

    frame: events.RoomState = {
        "type": "room.state",
        "seq": int(seq_raw) if seq_raw is not None else 0,
        "session": {
            "id": session.pk,
            "kind": session.kind,  # type: ignore[typeddict-item]
            "starts_at": session.starts_at.isoformat(),
            "ends_at": session.ends_at.isoformat(),
            "admit_directly": session.admit_directly,
        },
        "status": session.status,  # type: ignore[typeddict-item]
        "host": int(host_raw) if host_raw else None,
        "you": {
            **member.public(),
            "host": member.is_host,
            "admitted": you_admitted,
            "hand_raised": member.user_id in hand_ids,
            "breakout": breakouts.get(member.user_id),
        },
        "participants": [person(uid) for uid in sorted(in_room)] if you_admitted else [],
    }
    if member.is_host:
        frame["waiting"] = [
            {"id": uid, "name": names.get(uid, ""), "since": datetime.fromtimestamp(since, UTC).isoformat()}
            for uid, since in waiting
        ]
        frame["checkins"] = checkins_for_hosts(member.session_id)
    return frame


def roster_role(session_id: int, user_id: int) -> str:
    """The person's role on the session's roster, or an error frame's refusal."""
    role = (
        RosterEntry.objects.filter(session_id=session_id, user_id=user_id, removed_at__isnull=True)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise RoomActionError("not_on_roster", "That person is not on this session's roster.")
    return role


def public_of(session_id: int, user_id: int) -> events.UserRef:
    """How the room shows a roster member other than the caller."""
    user = User.objects.only("id", "first_name").get(pk=user_id)
    role = RosterEntry.objects.filter(session_id=session_id, user_id=user_id).values_list("role", flat=True).first()
    return {"id": user_id, "name": display_name(user), "role": role}  # type: ignore[typeddict-item]

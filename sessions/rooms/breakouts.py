"""Breakout rooms: a host splits admitted participants into numbered rooms and brings
everyone back. A breakout keeps its parent's restrictions (CLINICAL.md)."""

from __future__ import annotations

from typing import Any, cast

from django.db import transaction

from accounts.models import AgeBand, User
from audit.services import record
from server.redis_client import get_redis
from sessions.models import RosterEntry, RosterRole, Session
from sessions.rooms import events, sfu_sync
from sessions.rooms.broadcast import broadcast
from sessions.rooms.host import ensure_controls
from sessions.rooms.members import RoomActionError, RoomMember
from sessions.rooms.store import RoomKeys


def open_breakouts(*, member: RoomMember, rooms: dict[int, list[int]]) -> None:
    """Assign admitted participants to breakout rooms (replacing any earlier assignment):
    only people on the roster, and never a guardian in a breakout with an adolescent."""
    ensure_controls(member=member)
    assigned = [uid for users in rooms.values() for uid in users]
    if len(assigned) != len(set(assigned)):
        raise RoomActionError("invalid", "A person can be in one breakout room only.")
    roles = dict(
        RosterEntry.objects.filter(
            session_id=member.session_id, user_id__in=assigned, removed_at__isnull=True
        ).values_list("user_id", "role")
    )
    missing = [uid for uid in assigned if uid not in roles]
    if missing:
        raise RoomActionError("not_on_roster", f"Not on this session's roster: {sorted(missing)}.")
    admitted = {int(raw) for raw in get_redis().smembers(RoomKeys(member.session_id).admitted)}
    if not set(assigned) <= admitted:
        raise RoomActionError("not_admitted", f"Not admitted: {sorted(set(assigned) - admitted)}.")
    people = User.objects.filter(pk__in=assigned).only("id", "role", "birth_date", "time_zone")
    adolescents = {user.pk for user in people if user.age_band == AgeBand.ADOLESCENT}
    for users in rooms.values():
        if any(uid in adolescents for uid in users) and any(roles[uid] == RosterRole.GUARDIAN for uid in users):
            raise RoomActionError("forbidden", "A guardian cannot be in a breakout room with an adolescent.")
    mapping = {str(uid): number for number, users in rooms.items() for uid in users}
    with transaction.atomic():
        record(
            actor=member.actor(),
            action="session.breakouts_open",
            target=Session(pk=member.session_id),
            data={"rooms": {str(n): sorted(users) for n, users in rooms.items()}},
        )
        transaction.on_commit(lambda: _apply_breakouts(member.session_id, mapping, rooms))


def _apply_breakouts(session_id: int, mapping: dict[str, int], rooms: dict[int, list[int]]) -> None:
    keys = RoomKeys(session_id)
    pipe = get_redis().pipeline()
    pipe.hgetall(keys.breakouts)
    pipe.delete(keys.breakouts)
    pipe.hset(keys.breakouts, mapping=cast(Any, mapping))
    before = pipe.execute()[0]
    broadcast(session_id, "room", events.breakout_opened(rooms), {"breakouts": mapping})
    sfu_sync.regrouped(session_id, _assignments(before), mapping)


def close_breakouts(*, member: RoomMember) -> None:
    """Everyone returns to the main room."""
    ensure_controls(member=member)
    if not get_redis().exists(RoomKeys(member.session_id).breakouts):
        raise RoomActionError("no_breakouts", "No breakout rooms are open.")
    with transaction.atomic():
        record(actor=member.actor(), action="session.breakouts_close", target=Session(pk=member.session_id))
        transaction.on_commit(lambda: _clear_breakouts(member.session_id))


def _clear_breakouts(session_id: int) -> None:
    pipe = get_redis().pipeline()
    pipe.hgetall(RoomKeys(session_id).breakouts)
    pipe.delete(RoomKeys(session_id).breakouts)
    before = pipe.execute()[0]
    broadcast(session_id, "room", events.breakout_closed(), {"breakouts": {}})
    sfu_sync.regrouped(session_id, _assignments(before), {})


def _assignments(raw: dict[bytes, bytes]) -> dict[str, int]:
    return {uid.decode(): int(number) for uid, number in raw.items()}

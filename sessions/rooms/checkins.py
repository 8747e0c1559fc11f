"""Check-ins in the room (measures/checkin.py stores them): the hosts' list in
``room.state``, the hosts-only frame when someone checks in, and the admission rule."""

from __future__ import annotations

from collections.abc import Iterable

from measures.checkin import checkin_required_for, checkins_of
from measures.models import CheckIn
from sessions.rooms import events
from sessions.rooms.broadcast import broadcast_on_commit
from sessions.rooms.members import RoomActionError


def info(checkin: CheckIn) -> events.CheckInInfo:
    return events.checkin_info(
        user=checkin.participant_id,
        region=checkin.region,
        country=checkin.country,
        address=checkin.address,
        contact=(checkin.contact_name, checkin.contact_relation, checkin.contact_phone),
        at=checkin.updated_at,
    )


def checkins_for_hosts(session_id: int) -> list[events.CheckInInfo]:
    return [info(checkin) for checkin in checkins_of(session_id)]


def announce_checkin_on_commit(session_id: int, checkin: CheckIn) -> None:
    broadcast_on_commit(session_id, "staff", events.checkin_received(info(checkin)))


def admissible(session_id: int, user_ids: Iterable[int], *, single: bool) -> list[int]:
    """Those of ``user_ids`` a host may admit now: not one who must still check in. Asked
    for one person, a refusal is an error frame that says why."""
    ids = list(user_ids)
    missing = checkin_required_for(session_id=session_id, participant_ids=ids)
    if single and missing:
        raise RoomActionError(
            "not_checked_in",
            "That participant has not checked in for this session yet (their location and emergency contact); "
            "they can be admitted once they have.",
        )
    return [uid for uid in ids if uid not in missing]

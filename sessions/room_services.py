"""Every write of a live room: entering and leaving, the waiting room, chat, hands, host
controls, breakouts and ending. Called by the room consumer (through
``server.ws.db_task``; chat, the hot path, is async on the event loop) and by the
presence sweeper.

Durable facts (attendance segments, chat, removals, audit) go to PostgreSQL in a
transaction; the frames announcing them are published after commit with one Redis call
each (room_store.publish). Live state (who is present, waiting, admitted, in which
breakout) lives in Redis so every server process sees the same room.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, Max
from django.utils import timezone

from accounts.models import AgeBand, Consent, Role, User
from accounts.selectors import realtime_user
from accounts.services import TicketHolder
from audit.services import record
from server.redis_client import get_redis
from server.ws import CLOSE_BAD_TICKET, CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_NOT_OPEN, db_task
from sessions import chat_posts, chat_seqs, room_store
from sessions.chat_posts import chat_frame
from sessions.models import (
    AttendanceSegment,
    ChatMessage,
    FacilitatorRole,
    RoomRemoval,
    RosterEntry,
    RosterRole,
    Session,
    SessionFacilitator,
    SessionKind,
    SessionStatus,
)
from sessions.room_store import RoomKeys


class RoomRefused(Exception):
    """The handshake is refused with this websocket close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class RoomActionError(Exception):
    """A frame that is understood but not allowed now: an ``error`` frame, socket stays."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class RoomMember:
    """Who a socket belongs to, decided once at the handshake."""

    session_id: int
    user_id: int
    name: str
    username: str
    role: str  # "lead", "co", "participant" or "guardian"
    lead_id: int | None
    co_host_ids: frozenset[int] = field(default_factory=frozenset)
    admit_directly: bool = False  # the session skips the waiting room

    @property
    def is_host(self) -> bool:
        return self.role in (FacilitatorRole.LEAD, FacilitatorRole.CO)

    def actor(self) -> User:
        """Enough of the user for an audit entry, without a query."""
        return User(pk=self.user_id, username=self.username)

    def public(self) -> dict[str, Any]:
        return {"id": self.user_id, "name": self.name, "role": self.role}


def display_name(user: User) -> str:
    # First names only: other participants see each other, never surnames or usernames.
    return user.first_name or f"Participant {user.pk}"


# --- Handshake -------------------------------------------------------------------------


def _guardian_may_join(session: Session, guardian: User) -> bool:
    """A guardian joins only a family session, and only with an active link to an
    adolescent on its roster whose consent is in force."""
    if session.kind != SessionKind.FAMILY or guardian.role != Role.GUARDIAN:
        return False
    participants = RosterEntry.objects.filter(
        session=session, role=RosterRole.PARTICIPANT, removed_at__isnull=True
    ).values("user_id")
    # Asked of Consent, not of GuardianLink: a link with no consent row must not pass.
    return Consent.objects.filter(
        link__guardian=guardian,
        link__adolescent_id__in=participants,
        link__revoked_at__isnull=True,
        revoked_at__isnull=True,
    ).exists()


def _facilitators(session_id: int) -> tuple[dict[int, str], int | None, frozenset[int]]:
    """The session's hosts: user id -> facilitator role, the lead's id, the co-hosts' ids."""
    roles = dict(SessionFacilitator.objects.filter(session_id=session_id).values_list("clinician_id", "role"))
    lead_id = next((uid for uid, role in roles.items() if role == FacilitatorRole.LEAD), None)
    return roles, lead_id, frozenset(uid for uid, role in roles.items() if role == FacilitatorRole.CO)


def _roles_in_session(session_id: int) -> dict[int, str]:
    """Everyone's role in the session: roster roles, then facilitator roles over them."""
    roles = dict(RosterEntry.objects.filter(session_id=session_id).values_list("user_id", "role"))
    return {**roles, **_facilitators(session_id)[0]}


def authorize_holder(*, session_id: int, holder: TicketHolder) -> RoomMember:
    """The holder of a consumed ticket may still connect (active, token alive: 4401), then
    ``authorize_entry``. The consumer calls it once its socket listens for revocations of
    the holder (server/ws.py), so none committed meanwhile is missed."""
    user = realtime_user(holder)
    if user is None:
        raise RoomRefused(CLOSE_BAD_TICKET, "the user may no longer connect")
    return authorize_entry(session_id=session_id, user=user)


def authorize_entry(*, session_id: int, user: User) -> RoomMember:
    session = Session.objects.select_related("group").filter(pk=session_id).first()
    if session is None:
        raise RoomRefused(CLOSE_NOT_FOUND, "no such session")
    facilitators, lead_id, co_ids = _facilitators(session.pk)
    role = facilitators.get(user.pk)
    if role is None:
        entry = (
            RosterEntry.objects.filter(session=session, user=user, removed_at__isnull=True)
            .annotate(removed_by_host=Exists(RoomRemoval.objects.filter(session=session, user=user)))
            .first()
        )
        if entry is None or entry.removed_by_host:
            raise RoomRefused(CLOSE_FORBIDDEN, "not on this session's roster")
        if entry.role == RosterRole.GUARDIAN:
            if not _guardian_may_join(session, user):
                raise RoomRefused(CLOSE_FORBIDDEN, "guardians join family sessions of a consenting adolescent")
        elif user.role != Role.PARTICIPANT:
            raise RoomRefused(CLOSE_FORBIDDEN, "not a participant")
        elif session.group is not None and session.group.age_band != user.age_band:
            raise RoomRefused(CLOSE_FORBIDDEN, "this group is for another age band")
        role = entry.role
    if session.status != SessionStatus.OPEN:
        raise RoomRefused(CLOSE_NOT_OPEN, "session is not open")
    return RoomMember(
        session.pk, user.pk, display_name(user), user.username, role, lead_id, co_ids, session.admit_directly
    )


# --- Broadcasting ------------------------------------------------------------------------


def broadcast(session_id: int, audience: str, frame: dict[str, Any], control: dict[str, Any] | None = None) -> int:
    """Publish now (call after commit). Re-seeds a lost seq counter above every stored
    chat seq, so numbers never repeat within what PostgreSQL remembers."""
    seq = room_store.publish(session_id, audience, frame, control=control)
    if seq is None:
        # Rare (Redis lost the counter): give the processes' queued chat seqs time to land.
        time.sleep(chat_seqs.reseed_wait_seconds())
        floor = ChatMessage.objects.filter(session_id=session_id).aggregate(top=Max("seq"))["top"] or 0
        seq = room_store.publish(session_id, audience, frame, control=control, seq_floor=floor)
    assert seq is not None
    return seq


def broadcast_on_commit(
    session_id: int, audience: str, frame: dict[str, Any], control: dict[str, Any] | None = None
) -> None:
    transaction.on_commit(lambda: broadcast(session_id, audience, frame, control))


def user_audience(user_id: int) -> str:
    return f"user.{user_id}"


def breakout_audience(number: int) -> str:
    return f"breakout.{number}"


# --- Attendance ----------------------------------------------------------------------------


def _open_segment(session_id: int, user_id: int) -> None:
    # ON CONFLICT DO NOTHING: another process may have opened it first (one open segment
    # per person), and unlike catching IntegrityError it needs no savepoint round trips.
    AttendanceSegment.objects.bulk_create(
        [AttendanceSegment(session_id=session_id, user_id=user_id, joined_at=timezone.now())], ignore_conflicts=True
    )


def _close_segments(session_id: int, reason: str, user_id: int | None = None) -> int:
    segments = AttendanceSegment.objects.filter(session_id=session_id, left_at__isnull=True)
    if user_id is not None:
        segments = segments.filter(user_id=user_id)
    return segments.update(left_at=timezone.now(), left_reason=reason)


# --- Entering and leaving ------------------------------------------------------------------


@dataclass(frozen=True)
class RoomEntry:
    admitted: bool
    state: dict[str, Any]


def _is_admitted(keys: RoomKeys, member: RoomMember) -> bool:
    return member.is_host or bool(get_redis().sismember(keys.admitted, str(member.user_id)))


def enter_room(*, member: RoomMember, conn_id: str) -> RoomEntry:
    """A socket joins. The person's first socket is announced, recorded and audited;
    later tabs join silently. A participant back within the grace period keeps their
    place in the queue or their admission."""
    arrival = room_store.enter(
        member.session_id, member.user_id, conn_id,
        host=member.is_host, admit_directly=member.admit_directly, grace_seconds=settings.ROOM_GRACE_SECONDS,
    )  # fmt: skip
    if arrival.first:
        with transaction.atomic():
            if arrival.admitted:
                _open_segment(member.session_id, member.user_id)
                broadcast_on_commit(member.session_id, "room", {"type": "presence.joined", "user": member.public()})
            else:
                broadcast_on_commit(member.session_id, "staff", {"type": "waiting.joined", "user": member.public()})
            # Last in the transaction: the audit chain's lock is held until commit.
            record(
                actor=member.actor(),
                action="session.join",
                target=Session(pk=member.session_id),
                data={"waiting": not arrival.admitted},
            )
        if member.is_host:
            update_host(member=member)
    return RoomEntry(admitted=arrival.admitted, state=room_state(member=member))


def leave_room(*, member: RoomMember, conn_id: str, reason: str) -> None:
    """A socket closed. Only the person's last socket counts as leaving."""
    if room_store.remove_connection(member.session_id, member.user_id, conn_id) == 1:
        _depart(member=member, reason=reason)


def _depart(*, member: RoomMember, reason: str) -> None:
    keys = RoomKeys(member.session_id)
    redis = get_redis()
    redis.zadd(keys.gone, {str(member.user_id): time.time()})
    redis.srem(keys.hands, member.user_id)
    admitted = _is_admitted(keys, member)
    with transaction.atomic():
        _close_segments(member.session_id, reason, member.user_id)
        record(
            actor=member.actor(),
            action="session.leave",
            target=Session(pk=member.session_id),
            data={"reason": reason},
        )
        if admitted:
            broadcast_on_commit(member.session_id, "room", {"type": "presence.left", "user": member.public()})
        else:
            broadcast_on_commit(member.session_id, "staff", {"type": "waiting.left", "user": member.public()})
    if member.is_host:
        update_host(member=member)


def member_for(session_id: int, user_id: int) -> RoomMember:
    """A RoomMember rebuilt from the database, for departures found by the sweeper."""
    user = User.objects.get(pk=user_id)
    facilitators, lead_id, co_ids = _facilitators(session_id)
    role = facilitators.get(user_id) or (
        RosterEntry.objects.filter(session_id=session_id, user_id=user_id).values_list("role", flat=True).first()
        or RosterRole.PARTICIPANT
    )
    return RoomMember(session_id, user_id, display_name(user), user.username, role, lead_id, co_ids)


def sweep_stale_presence(*, now: float | None = None) -> int:
    """Remove sockets whose process stopped heartbeating (it died); announce and record
    the departure of people left with no socket. Safe to run in every process at once:
    each stale socket is removed by exactly one caller."""
    cutoff = (time.time() if now is None else now) - settings.ROOM_PRESENCE_TIMEOUT_SECONDS
    departed = 0
    for session_id, stale in room_store.stale_connections_by_room(cutoff).items():
        for name in stale:
            user_id, conn_id = name.split(":", 1)
            if room_store.remove_connection(session_id, int(user_id), conn_id) == 1:
                _depart(member=member_for(session_id, int(user_id)), reason="timeout")
                departed += 1
    return departed


# --- Room state --------------------------------------------------------------------------


def room_state(*, member: RoomMember) -> dict[str, Any]:
    """The ``room.state`` frame for this member. ``seq`` is read first, so every change
    after it arrives as a live frame."""
    keys = RoomKeys(member.session_id)
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    pipe.get(keys.seq)  # first: Redis runs a pipeline's commands in order
    pipe.zrange(keys.presence, 0, -1)
    pipe.smembers(keys.admitted)
    pipe.smembers(keys.hands)
    pipe.hgetall(keys.breakouts)
    pipe.zrange(keys.waiting, 0, -1, withscores=True)
    pipe.get(keys.host)
    seq_raw, presence, admitted_raw, hands_raw, breakouts_raw, waiting_raw, host_raw = pipe.execute()
    seq = int(seq_raw) if seq_raw is not None else 0
    admitted_ids = {int(raw) for raw in admitted_raw}
    hand_ids = {int(raw) for raw in hands_raw}
    breakouts = {int(uid): int(number) for uid, number in breakouts_raw.items()}
    present_ids = {room_store.user_of(name) for name in presence}
    session = Session.objects.get(pk=member.session_id)
    you_admitted = member.is_host or member.user_id in admitted_ids
    hosts = {member.lead_id, *member.co_host_ids} - {None}
    in_room = [uid for uid in present_ids if uid in hosts or uid in admitted_ids]
    waiting = [(int(uid), since) for uid, since in waiting_raw if int(uid) in present_ids]
    names = {
        user.pk: display_name(user)
        for user in User.objects.filter(pk__in=[*in_room, *(uid for uid, _ in waiting)]).only("id", "first_name")
    }
    roles = dict(RosterEntry.objects.filter(session_id=member.session_id).values_list("user_id", "role"))

    def person(uid: int) -> dict[str, Any]:
        role = FacilitatorRole.LEAD if uid == member.lead_id else FacilitatorRole.CO if uid in hosts else roles.get(uid)
        return {
            "id": uid,
            "name": names.get(uid, ""),
            "role": role,
            "hand_raised": uid in hand_ids,
            "breakout": breakouts.get(uid),
        }

    state: dict[str, Any] = {
        "type": "room.state",
        "seq": seq,
        "session": {
            "id": session.pk,
            "kind": session.kind,
            "starts_at": session.starts_at.isoformat(),
            "ends_at": session.ends_at.isoformat(),
            "admit_directly": session.admit_directly,
        },
        "status": session.status,
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
        state["waiting"] = [
            {"id": uid, "name": names.get(uid, ""), "since": datetime.fromtimestamp(since, UTC).isoformat()}
            for uid, since in waiting
        ]
    return state


# --- Hosts ---------------------------------------------------------------------------------


def controller_id(*, member: RoomMember, present: set[int] | None = None) -> int | None:
    """Who holds host controls: the lead when present, else the present co-facilitator
    with the lowest id, else nobody."""
    present = room_store.present_user_ids(member.session_id) if present is None else present
    if member.lead_id is not None and member.lead_id in present:
        return member.lead_id
    return min(member.co_host_ids & present, default=None)


def update_host(*, member: RoomMember) -> None:
    """After a host comes or goes: announce a change of who holds the controls, and tell
    waiting participants whether anyone is there to admit them."""
    keys = RoomKeys(member.session_id)
    controller = controller_id(member=member)
    previous = get_redis().getset(keys.host, "" if controller is None else str(controller))
    previous_id = int(previous) if previous else None
    if previous_id == controller:
        return
    broadcast(member.session_id, "all", {"type": "host.changed", "host": controller})
    if (previous_id is None) != (controller is None):
        broadcast(member.session_id, "waiting", {"type": "waiting", "host_present": controller is not None})


def ensure_controls(*, member: RoomMember) -> None:
    if not member.is_host:
        raise RoomActionError("forbidden", "Only the session's facilitators can do that.")
    if controller_id(member=member) != member.user_id and member.role != FacilitatorRole.LEAD:
        raise RoomActionError("forbidden", "The lead facilitator holds the host controls.")


def _roster_role(session_id: int, user_id: int) -> str:
    role = (
        RosterEntry.objects.filter(session_id=session_id, user_id=user_id, removed_at__isnull=True)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        raise RoomActionError("not_on_roster", "That person is not on this session's roster.")
    return role


def _public(session_id: int, user_id: int) -> dict[str, Any]:
    user = User.objects.only("id", "first_name").get(pk=user_id)
    role = RosterEntry.objects.filter(session_id=session_id, user_id=user_id).values_list("role", flat=True).first()
    return {"id": user_id, "name": display_name(user), "role": role}


def admit(*, member: RoomMember, user_id: int | None, everyone: bool = False) -> list[int]:
    """Admit one person on the roster (waiting or not yet arrived) or everyone waiting."""
    ensure_controls(member=member)
    keys = RoomKeys(member.session_id)
    redis = get_redis()
    if everyone:  # those waiting now, not people who left the queue (grace period)
        present_now = room_store.present_user_ids(member.session_id)
        targets = [int(raw) for raw in room_store.zset_members(keys.waiting) if int(raw) in present_now]
    else:
        assert user_id is not None
        _roster_role(member.session_id, user_id)
        if RoomRemoval.objects.filter(session_id=member.session_id, user_id=user_id).exists():
            raise RoomActionError("removed", "That person was removed from this session.")
        targets = [user_id]
    present = room_store.present_user_ids(member.session_id)
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
            broadcast_on_commit(member.session_id, user_audience(target), {"type": "admitted"}, {"admit": target})
            if target in present:
                _open_segment(member.session_id, target)
                public = _public(member.session_id, target)
                broadcast_on_commit(member.session_id, "staff", {"type": "waiting.left", "user": public})
                broadcast_on_commit(member.session_id, "room", {"type": "presence.joined", "user": public})
    return targets


def mute(*, member: RoomMember, user_id: int) -> None:
    ensure_controls(member=member)
    if user_id not in room_store.present_user_ids(member.session_id):
        raise RoomActionError("not_present", "That person is not in the room.")
    with transaction.atomic():
        record(
            actor=member.actor(), action="session.mute", target=Session(pk=member.session_id), data={"user": user_id}
        )
        broadcast_on_commit(member.session_id, user_audience(user_id), {"type": "muted", "by": member.user_id})


def remove(*, member: RoomMember, user_id: int) -> None:
    """Remove a person for the rest of this session: a final ``removed`` frame, close 4000,
    and no way back in."""
    ensure_controls(member=member)
    if user_id in {member.lead_id, *member.co_host_ids}:
        raise RoomActionError("forbidden", "Facilitators cannot be removed from the room.")
    _roster_role(member.session_id, user_id)
    keys = RoomKeys(member.session_id)
    redis = get_redis()
    was_present = user_id in room_store.present_user_ids(member.session_id)
    was_admitted = bool(redis.sismember(keys.admitted, str(user_id)))
    public = _public(member.session_id, user_id)
    with transaction.atomic():
        removal, created = RoomRemoval.objects.get_or_create(
            session_id=member.session_id, user_id=user_id, defaults={"by_id": member.user_id}
        )
        if not created:
            raise RoomActionError("removed", "That person was already removed.")
        _close_segments(member.session_id, "removed", user_id)
        record(actor=member.actor(), action="session.remove", target=removal, data={"user": user_id})
        broadcast_on_commit(member.session_id, user_audience(user_id), {"type": "removed"}, {"remove": user_id})
        if was_present:
            audience, kind = ("room", "presence.left") if was_admitted else ("staff", "waiting.left")
            broadcast_on_commit(member.session_id, audience, {"type": kind, "user": public, "reason": "removed"})
    room_store.forget_user(member.session_id, user_id)


def end_session(*, member: RoomMember) -> None:
    ensure_controls(member=member)
    _end(member.session_id, actor=member.actor())


def end_overdue_rooms(*, now: datetime | None = None) -> int:
    """End the live rooms of sessions whose ``ends_at`` has passed without a host ending
    them (CONTRACT.md: a session is open until a host ends it or ``ends_at`` passes):
    everyone gets ``session.ended``, sockets close, attendance closes now. Idempotent and
    safe to run in several workers at once (see _end)."""
    live = room_store.live_room_ids()
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
        _close_segments(session.pk, "session_ended")
        record(actor=actor, action="session.end", target=session, data=data)
        transaction.on_commit(functools.partial(_announce_end, session.pk))
    return True


def _announce_end(session_id: int) -> None:
    broadcast(session_id, "all", {"type": "session.ended"}, {"end": True})
    room_store.delete_room(session_id)


# --- Chat and hands ------------------------------------------------------------------------


def _chat_audience(message: ChatMessage) -> str:
    return "main" if message.breakout is None else breakout_audience(message.breakout)


def _publish_chat(message: ChatMessage, author: dict[str, Any]) -> int:
    seq = broadcast(message.session_id, _chat_audience(message), chat_frame(message, author))
    with connection.cursor() as cursor:
        cursor.execute(_SET_CHAT_SEQ, [seq, message.pk])
    return seq


@dataclass(frozen=True)
class ChatOutcome:
    """``repeat`` holds the stored frame when this client_id was posted before: it goes to
    the sender only, so a re-send after a reconnect is acknowledged but not re-posted."""

    repeat: dict[str, Any] | None = None


_CHAT_TABLE = ChatMessage._meta.db_table
_SET_CHAT_SEQ = f"UPDATE {_CHAT_TABLE} SET seq = %s WHERE id = %s"  # noqa: S608


async def post_chat_message(
    *,
    member: RoomMember,
    text: str,
    client_id: str,
    admitted: bool,
    in_breakout: int | None,
    breakout: int | None = None,
) -> ChatOutcome:
    """Store and broadcast one chat line, on the event loop (server/async_db.py says why).

    ``admitted`` and ``in_breakout`` are the posting socket's view of the room, kept by the
    consumer from the room's own frames (its entry state, then ``admit`` and ``breakouts``
    controls): the same state that decides which frames the socket receives, so a socket
    posts only where it reads. A participant posts to their breakout; a host to the main
    room or to any open breakout.

    Stored (committed) and then broadcast in a batch with the lines that arrived with it
    (sessions/chat_posts.py). If the process dies after the INSERT, the row has no seq and
    the client's re-send with the same client_id broadcasts it then."""
    if member.is_host:
        if breakout is not None and breakout not in await room_store.open_breakout_numbers(member.session_id):
            raise RoomActionError("no_such_breakout", "That breakout room is not open.")
    elif not admitted:
        raise RoomActionError("not_admitted", "You are in the waiting room.")
    else:
        breakout = in_breakout
    author = member.public()
    message = ChatMessage(
        session_id=member.session_id, user_id=member.user_id, client_id=client_id, text=text,
        breakout=breakout, sent_at=timezone.now(),
    )  # fmt: skip
    if await chat_posts.poster().post(message, author, _chat_audience(message)):
        return ChatOutcome()
    return await db_task(_repeated_chat_message)(member=member, client_id=client_id, author=author)


def _repeated_chat_message(*, member: RoomMember, client_id: str, author: dict[str, Any]) -> ChatOutcome:
    stored = ChatMessage.objects.get(session_id=member.session_id, user_id=member.user_id, client_id=client_id)
    if stored.seq is None:
        # Broadcast, but its seq not written yet (chat_seqs batches it, or the process
        # died holding it): the room's log has it. Else never broadcast (the process or
        # Redis failed in between): the room, the sender included, gets it now, no echo.
        stored.seq = room_store.logged_chat_seqs(member.session_id).get(stored.pk)
        if stored.seq is None:
            _publish_chat(stored, author)
            return ChatOutcome()
        ChatMessage.objects.filter(pk=stored.pk, seq__isnull=True).update(seq=stored.seq)
    return ChatOutcome(repeat={**chat_frame(stored, author), "seq": stored.seq})


# A row whose seq is still unwritten this long after it was sent lost its batch (the
# process died holding it); older than the window, the room's log no longer has it.
SEQ_BACKFILL_AFTER = timedelta(seconds=10)
SEQ_BACKFILL_WINDOW = timedelta(hours=1)


def backfill_chat_seqs(*, now: datetime | None = None) -> int:
    """Copy lost seqs from the rooms' logs into rows that have none (a web process died
    holding its batch: sessions/chat_seqs.py), so a resume from the database finds them.
    A line that was never broadcast is not in a log and stays without one: its client's
    re-send broadcasts it. Safe in every process at once. Returns the rows filled."""
    now = now or timezone.now()
    waiting = ChatMessage.objects.filter(
        seq__isnull=True, sent_at__lt=now - SEQ_BACKFILL_AFTER, sent_at__gt=now - SEQ_BACKFILL_WINDOW
    )
    rows = list(waiting.only("pk", "session_id")[:500])
    logged = {session_id: room_store.logged_chat_seqs(session_id) for session_id in {row.session_id for row in rows}}
    found = []
    for row in rows:
        row.seq = logged[row.session_id].get(row.pk)
        if row.seq is not None:
            found.append(row)
    # The log's seq is the broadcast's own, so a batch written meanwhile wrote the same.
    ChatMessage.objects.bulk_update(found, ["seq"])
    return len(found)


def set_hand(*, member: RoomMember, raised: bool) -> None:
    keys = RoomKeys(member.session_id)
    redis = get_redis()
    if not _is_admitted(keys, member):
        raise RoomActionError("not_admitted", "You are in the waiting room.")
    changed = redis.sadd(keys.hands, member.user_id) if raised else redis.srem(keys.hands, member.user_id)
    if changed:
        kind = "hand.raised" if raised else "hand.lowered"
        broadcast(member.session_id, "room", {"type": kind, "user": member.public()})


# --- Breakouts -----------------------------------------------------------------------------


def open_breakouts(*, member: RoomMember, rooms: dict[int, list[int]]) -> None:
    """Assign admitted participants to breakout rooms (replacing any earlier assignment).
    A breakout keeps the parent's restrictions: only people on its roster, and never a
    guardian in a breakout with an adolescent."""
    ensure_controls(member=member)
    keys = RoomKeys(member.session_id)
    redis = get_redis()
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
    admitted = {int(raw) for raw in redis.smembers(keys.admitted)}
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
    pipe.delete(keys.breakouts)
    pipe.hset(keys.breakouts, mapping=cast(Any, mapping))
    pipe.execute()
    frame = {"type": "breakout.opened", "rooms": {str(n): sorted(users) for n, users in rooms.items()}}
    broadcast(session_id, "room", frame, {"breakouts": mapping})


def close_breakouts(*, member: RoomMember) -> None:
    """Everyone returns to the main room."""
    ensure_controls(member=member)
    keys = RoomKeys(member.session_id)
    if not get_redis().exists(keys.breakouts):
        raise RoomActionError("no_breakouts", "No breakout rooms are open.")
    with transaction.atomic():
        record(actor=member.actor(), action="session.breakouts_close", target=Session(pk=member.session_id))
        transaction.on_commit(lambda: _clear_breakouts(member.session_id))


def _clear_breakouts(session_id: int) -> None:
    get_redis().delete(RoomKeys(session_id).breakouts)
    broadcast(session_id, "room", {"type": "breakout.closed"}, {"breakouts": {}})


def chat_history(*, member: RoomMember, after_seq: int, up_to_seq: int, limit: int) -> list[dict[str, Any]]:
    """Stored chat this member may see with after_seq < seq <= up_to_seq, oldest first,
    at most the ``limit`` newest (a resume the Redis log no longer covers)."""
    messages = ChatMessage.objects.filter(session_id=member.session_id, seq__gt=after_seq, seq__lte=up_to_seq)
    if not member.is_host:
        assigned = get_redis().hget(RoomKeys(member.session_id).breakouts, str(member.user_id))
        messages = messages.filter(breakout=int(assigned)) if assigned is not None else messages.filter(breakout=None)
    newest = list(messages.select_related("user").order_by("-seq")[:limit])
    roles = _roles_in_session(member.session_id)
    return [
        {**chat_frame(m, {"id": m.user_id, "name": display_name(m.user), "role": roles.get(m.user_id)}), "seq": m.seq}
        for m in reversed(newest)
    ]

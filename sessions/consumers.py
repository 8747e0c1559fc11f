"""/ws/sessions/<id>/?ticket=...: a live therapy room (CONTRACT.md, Websockets).

Thin: authenticate, validate each frame against its schema, call one room service, send
the result or an error frame. Room frames arrive through the process's RoomHub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from server.ws import (
    CLOSE_BAD_TICKET,
    CLOSE_FORBIDDEN,
    CLOSE_IDLE,
    CLOSE_NOT_OPEN,
    CLOSE_RATE_LIMITED,
    CLOSE_REMOVED,
    CLOSE_SERVICE_RESTART,
    PONG,
    FrameError,
    FrameGate,
    PreparedFrame,
    RealtimeConsumer,
    consume_ticket,
    db_task,
    dumps,
    error_frame,
    query_params,
)
from sessions import chat_seqs, frames, room_hub, room_services, room_store
from sessions.room_services import RoomActionError, RoomMember, RoomRefused
from sessions.room_store import LogEntry

logger = logging.getLogger("iop.rooms")

# Access revocations (server/realtime.py) and the close code each one gets here.
REVOCATION_CLOSE_CODES = {
    "logout": CLOSE_BAD_TICKET,
    "deactivated": CLOSE_BAD_TICKET,
    "password_changed": CLOSE_BAD_TICKET,
    "removed_from_roster": CLOSE_FORBIDDEN,
    "session_cancelled": CLOSE_NOT_OPEN,
}
# These concern a guardian's link or consent: they close a guardian's sockets only.
GUARDIAN_REVOCATIONS = {"guardian_link_revoked", "consent_revoked", "consent_changed"}
# Without a log this long, a resume from the database returns at most this many messages.
RESUME_FROM_DATABASE_LIMIT = 500

Handler = Callable[["SessionRoomConsumer", Any], Awaitable[None]]


class SessionRoomConsumer(RealtimeConsumer):
    # Room frames and access revocations both arrive through the process's RoomHub.
    uses_channel_layer = False
    member: RoomMember | None = None
    session_id = 0
    user_id = 0
    member_name = ""

    # Handshake and teardown ---------------------------------------------------------------

    async def connect(self) -> None:
        self.session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
        self.last_heard = time.time()
        # Contract: refusals are close codes, which a client only sees after an accept.
        await self.accept()
        holder = await consume_ticket(ticket=query_params(self.scope).get("ticket", ""))
        if holder is None:
            await self.close(code=CLOSE_BAD_TICKET)
            return
        self.user_id = holder.user_id
        self.gate = FrameGate()
        self.conn_id = uuid.uuid4().hex
        self.member_name = room_store.member(holder.user_id, self.conn_id)
        self.admitted = False
        self.breakout: int | None = None
        self.closing = False
        # Frames that arrive before room.state is sent wait here, then those not newer
        # than the state's seq are dropped (the state already reflects them).
        self.pending: list[LogEntry] | None = []
        self.state_seq = self.last_sent_seq = 0
        # Revocations of the holder that arrive before access is decided.
        self.early_revocations: list[dict[str, Any]] = []
        refusal: int | None = None
        try:
            # Listening for revocations before access is checked (server/ws.py).
            await room_hub.hub().join(self)
            member = await db_task(room_services.authorize_holder)(session_id=self.session_id, holder=holder)
            refusal = next(filter(None, (self.revocation_code(member, e) for e in self.early_revocations)), None)
            if refusal is None:
                self.member = member
                self.admitted = member.is_host
                entry = await db_task(room_services.enter_room)(member=member, conn_id=self.conn_id)
        except RoomRefused as refused:
            refusal = refused.code
        except Exception:
            logger.warning("joining a room failed; the client should retry", exc_info=True)
            refusal = CLOSE_SERVICE_RESTART
        if refusal is not None:
            self.member = None
            await room_hub.hub().leave(self)
            await self.close(code=refusal)
            return
        self.admitted = entry.admitted
        await self.send_state(entry.state)
        if not entry.admitted:
            await self.send_frame({"type": "waiting", "host_present": entry.state["host"] is not None})

    async def disconnect(self, code: int) -> None:
        member = self.member
        if member is None:
            return
        self.member = None
        await room_hub.hub().leave(self)
        reason = "closed" if code in (1000, 1001, None) else f"closed_{code}"
        await asyncio.shield(db_task(room_services.leave_room)(member=member, conn_id=self.conn_id, reason=reason))

    # Inbound frames -----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.member is None:
            return
        self.last_heard = time.time()
        try:
            frame = frames.parse_inbound(self.gate.parse(text_data, bytes_data))
            await HANDLERS[frame.type](self, frame)
        except (FrameError, RoomActionError) as error:
            await self.send_frame(error_frame(error.code, error.message))
            if self.gate.refused():
                await self.close(code=CLOSE_RATE_LIMITED)
        except Exception:
            # A fault of ours must not kill the socket: say so and keep the room open.
            logger.exception("room frame handler failed")
            await self.send_frame(error_frame("server_error", "The server could not handle that frame."))

    async def on_ping(self, frame: frames.Ping) -> None:
        await self.send_prepared(PONG)

    async def on_chat_send(self, frame: frames.ChatSend) -> None:
        assert self.member is not None
        outcome = await room_services.post_chat_message(
            member=self.member, text=frame.text, client_id=frame.client_id, breakout=frame.breakout,
            admitted=self.admitted, in_breakout=self.breakout,
        )  # fmt: skip
        if outcome.repeat is not None:
            await self.send_frame(outcome.repeat)

    async def on_hand_raise(self, frame: frames.HandRaise) -> None:
        await self.call(room_services.set_hand, raised=True)

    async def on_hand_lower(self, frame: frames.HandLower) -> None:
        await self.call(room_services.set_hand, raised=False)

    async def on_resume(self, frame: frames.Resume) -> None:
        await self.replay(frame.last_seq)

    async def on_admit(self, frame: frames.HostAdmit) -> None:
        await self.call(room_services.admit, user_id=frame.user, everyone=frame.all)

    async def on_remove(self, frame: frames.HostRemove) -> None:
        await self.call(room_services.remove, user_id=frame.user)

    async def on_mute(self, frame: frames.HostMute) -> None:
        await self.call(room_services.mute, user_id=frame.user)

    async def on_end(self, frame: frames.HostEnd) -> None:
        await self.call(room_services.end_session)

    async def on_breakout_open(self, frame: frames.BreakoutOpen) -> None:
        await self.call(room_services.open_breakouts, rooms=frame.assignments())

    async def on_breakout_close(self, frame: frames.BreakoutClose) -> None:
        await self.call(room_services.close_breakouts)

    async def call(self, service: Callable[..., Any], **kwargs: Any) -> Any:
        return await db_task(service)(member=self.member, **kwargs)

    # Outbound -----------------------------------------------------------------------------

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(dumps(frame))

    async def send_state(self, state: dict[str, Any]) -> None:
        self.state_seq = state["seq"]
        self.breakout = state["you"]["breakout"]
        await self.send_frame(state)
        pending, self.pending = self.pending or [], None
        for entry in pending:
            if self.wants(entry.audience):
                await self.deliver(entry)

    async def replay(self, last_seq: int) -> None:
        """Frames after ``last_seq`` up to the state this socket started from; newer ones
        arrive live. A gap the Redis log no longer covers is a ``resync``: a fresh
        room.state plus the chat the database still has."""
        assert self.member is not None
        if last_seq >= self.state_seq:
            if last_seq > max(self.state_seq, self.last_sent_seq):  # the counter restarted
                await self.resync("counter_reset")
            return
        log = await db_task(room_store.log_entries)(self.session_id)
        if log and log[0].seq <= last_seq + 1:
            for entry in log:
                if last_seq < entry.seq <= self.state_seq and self.wants(entry.audience):
                    await self.send(entry.frame_text)
            return
        await self.resync("too_far_behind", since=last_seq)

    async def resync(self, reason: str, since: int | None = None) -> None:
        """A ``resync``, a fresh room.state and, after ``since``, the chat this socket may
        see: from the database up to where the room's log begins, then from the log.
        Newest rows may not have their seq written yet (sessions/chat_seqs.py), but the
        log always holds them."""
        assert self.member is not None
        await self.send_frame({"type": "resync", "reason": reason})
        state = await db_task(room_services.room_state)(member=self.member)
        self.state_seq = state["seq"]
        self.breakout = state["you"]["breakout"]
        await self.send_frame(state)
        if since is None or not self.admitted:
            return
        log = await db_task(room_store.log_entries)(self.session_id)
        logged_from = log[0].seq if log else self.state_seq + 1
        await chat_seqs.recorder().flush()  # this process's unwritten seqs, before reading
        history = await db_task(room_services.chat_history)(
            member=self.member,
            after_seq=since,
            up_to_seq=min(self.state_seq, logged_from - 1),
            limit=RESUME_FROM_DATABASE_LIMIT,
        )
        for frame in history:
            await self.send_frame(frame)
        for entry in log:
            if since < entry.seq <= self.state_seq and entry.is_chat and self.wants(entry.audience):
                await self.send(entry.frame_text)

    # Called by the RoomHub ------------------------------------------------------------------

    def wants(self, audience: str) -> bool:
        """Which published frames this socket gets: see room_store's module docstring."""
        if self.closing:
            return False
        if self.pending is not None:  # before room.state: keep everything, filter later
            return True
        if self.member is None:
            return False
        if audience == "all":
            return True
        if audience.startswith("user."):
            return audience == room_services.user_audience(self.member.user_id)
        if audience == "waiting":
            return not self.admitted
        if not self.admitted:
            return False
        if audience == "room":
            return True
        if audience == "staff":
            return self.member.is_host
        if audience == "main":
            return self.member.is_host or self.breakout is None
        if self.member.is_host:
            return True
        return self.breakout is not None and audience == room_services.breakout_audience(self.breakout)

    async def deliver(self, entry: LogEntry, frame: PreparedFrame | None = None) -> None:
        if self.pending is not None:
            self.pending.append(entry)
            return
        if entry.seq <= self.state_seq:
            return
        await self.send_prepared(frame or PreparedFrame(entry.frame_text))
        self.last_sent_seq = entry.seq
        if entry.control:
            await self.apply_control(entry.control)

    async def apply_control(self, control: dict[str, Any]) -> None:
        assert self.member is not None
        user_id = self.member.user_id
        if control.get("end"):
            self.closing = True
            await self.close(code=1000)
        elif control.get("remove") == user_id:
            self.closing = True
            await self.close(code=CLOSE_REMOVED)
        elif control.get("admit") == user_id and not self.admitted:
            self.admitted = True
            await self.send_state(await db_task(room_services.room_state)(member=self.member))
        elif "breakouts" in control:
            number = control["breakouts"].get(str(user_id))
            self.breakout = int(number) if number is not None else None

    async def bus_lost(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            await self.send_frame({"type": "resync", "reason": "server_reconnecting"})
        await self.close(code=CLOSE_SERVICE_RESTART)

    async def went_silent(self) -> None:
        """No frame from the client for ROOM_IDLE_SECONDS: the connection is gone."""
        self.closing = True
        await self.close(code=CLOSE_IDLE)

    async def access_revoked(self, event: dict[str, Any]) -> None:
        """An access revocation for this socket's user or session (server/realtime.py).
        Before access is decided (connect), it is kept and weighed then."""
        member = self.member
        if member is None:
            self.early_revocations.append(event)
            return
        code = self.revocation_code(member, event)
        if code is not None:
            self.closing = True
            await self.close(code=code)

    def revocation_code(self, member: RoomMember, event: dict[str, Any]) -> int | None:
        """The close code a revocation means for this socket; None if it is not about it."""
        if event.get("session_id") not in (None, self.session_id):
            return None
        reason = event.get("reason", "")
        if reason in GUARDIAN_REVOCATIONS:
            return CLOSE_FORBIDDEN if member.role == "guardian" else None
        return REVOCATION_CLOSE_CODES.get(reason)


HANDLERS: dict[str, Handler] = {
    "ping": SessionRoomConsumer.on_ping,
    "chat.send": SessionRoomConsumer.on_chat_send,
    "hand.raise": SessionRoomConsumer.on_hand_raise,
    "hand.lower": SessionRoomConsumer.on_hand_lower,
    "resume": SessionRoomConsumer.on_resume,
    "host.admit": SessionRoomConsumer.on_admit,
    "host.remove": SessionRoomConsumer.on_remove,
    "host.mute": SessionRoomConsumer.on_mute,
    "host.end": SessionRoomConsumer.on_end,
    "breakout.open": SessionRoomConsumer.on_breakout_open,
    "breakout.close": SessionRoomConsumer.on_breakout_close,
}

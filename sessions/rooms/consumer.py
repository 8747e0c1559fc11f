"""/ws/sessions/<id>/?ticket=...: a live therapy room (docs/websocket-protocol.md).

Thin: authenticate, validate each frame against its schema (frames.py), call one room
service, send its result or turn its refusal into an error frame or a close code. Room
broadcasts and access revocations arrive through the process's RoomHub (hub.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from server.ws import (
    CLOSE_BAD_TICKET,
    CLOSE_FORBIDDEN,
    CLOSE_IDLE,
    CLOSE_NOT_FOUND,
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
    query_params,
)
from sessions.rooms import access, breakouts, chat, events, frames, hands, host, hub, presence, resume, state
from sessions.rooms.members import Refusal, RoomActionError, RoomMember, RoomRefused, SocketView
from sessions.rooms.signaling import FRAME_TYPES as SIGNALING_FRAME_TYPES
from sessions.rooms.signaling import part_name, relay
from sessions.rooms.store import LogEntry

logger = logging.getLogger("iop.rooms")

REFUSAL_CLOSE_CODES = {
    Refusal.BAD_TICKET: CLOSE_BAD_TICKET,
    Refusal.FORBIDDEN: CLOSE_FORBIDDEN,
    Refusal.NOT_FOUND: CLOSE_NOT_FOUND,
    Refusal.NOT_OPEN: CLOSE_NOT_OPEN,
}
# Access revocations (server/realtime.py) and the close code each one gets here.
REVOCATION_CLOSE_CODES = {
    "logout": CLOSE_BAD_TICKET,
    "deactivated": CLOSE_BAD_TICKET,
    "password_changed": CLOSE_BAD_TICKET,
    "role_changed": CLOSE_BAD_TICKET,
    "token_expired": CLOSE_BAD_TICKET,
    "removed_from_roster": CLOSE_FORBIDDEN,
    "session_cancelled": CLOSE_NOT_OPEN,
}
# These concern a guardian's link or consent: they close a guardian's sockets only.
GUARDIAN_REVOCATIONS = {"guardian_link_revoked", "consent_revoked", "consent_changed"}

Handler = Callable[["SessionRoomConsumer", Any], Awaitable[None]]


class SessionRoomConsumer(RealtimeConsumer):
    # Room frames and access revocations both arrive through the process's RoomHub.
    uses_channel_layer = False
    view: SocketView | None = None  # set once access is decided
    session_id = 0
    user_id = 0
    token_digest: str | None = None  # of the API token that asked for this socket's ticket
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
        self.token_digest = holder.token_digest
        self.gate = FrameGate(signaling_types=SIGNALING_FRAME_TYPES)
        self.conn_id = uuid.uuid4().hex
        self.member_name = presence.socket_name(holder.user_id, self.conn_id)
        self.closing = False
        # Frames that arrive before room.state is sent wait here, then those not newer
        # than the state's seq are dropped (the state already reflects them).
        self.pending: list[LogEntry] | None = []
        # Signaling frames (part of the room, text) that arrive before room.state: sent after it.
        self.pending_signals: list[tuple[str, str]] = []
        # Revocations of the holder that arrive before access is decided.
        self.early_revocations: list[dict[str, Any]] = []
        refusal: int | None = None
        try:
            # Listening for revocations before access is checked (server/ws.py).
            await hub.hub().join(self)
            member = await db_task(access.authorize_holder)(session_id=self.session_id, holder=holder)
            refusal = next(filter(None, (self.revocation_code(member, e) for e in self.early_revocations)), None)
            if refusal is None:
                self.view = SocketView(member, admitted=member.is_host)
                entry = await db_task(presence.enter_room)(member=member, conn_id=self.conn_id)
        except RoomRefused as refused:
            refusal = REFUSAL_CLOSE_CODES[refused.reason]
        except Exception:
            logger.warning("joining a room failed; the client should retry", exc_info=True)
            refusal = CLOSE_SERVICE_RESTART
        if refusal is not None:
            self.view = None
            await hub.hub().leave(self)
            await self.close(code=refusal)
            return
        assert self.view is not None
        self.view.admitted = entry.admitted
        await self.send_state(entry.state)
        if not entry.admitted:
            await self.send_frame(events.waiting(host_present=entry.state["host"] is not None))

    async def disconnect(self, code: int) -> None:
        view, self.view = self.view, None
        if view is None:
            return
        await hub.hub().leave(self)
        reason = "closed" if code in (1000, 1001, None) else f"closed_{code}"
        await asyncio.shield(db_task(presence.leave_room)(member=view.member, conn_id=self.conn_id, reason=reason))

    # Inbound frames: each calls one service ----------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.view is None:
            return
        self.last_heard = time.time()
        try:
            frame = frames.parse_inbound(self.gate.parse(text_data, bytes_data))
            await HANDLERS[frame.type](self, frame)
        except (FrameError, RoomActionError) as error:
            await self.send_frame(events.error(error.code, error.message))
            if self.gate.refused():
                await self.close(code=CLOSE_RATE_LIMITED)
        except Exception:
            # A fault of ours must not kill the socket: say so and keep the room open.
            logger.exception("room frame handler failed")
            await self.send_frame(events.error("server_error", "The server could not handle that frame."))

    async def on_ping(self, frame: frames.Ping) -> None:
        await self.send_prepared(PONG)

    async def on_chat_send(self, frame: frames.ChatSend) -> None:
        assert self.view is not None
        outcome = await chat.post_chat_message(
            view=self.view, text=frame.text, client_id=frame.client_id, breakout=frame.breakout
        )
        if outcome.repeat is not None:
            await self.send_frame(outcome.repeat)

    async def on_hand_raise(self, frame: frames.HandRaise) -> None:
        await self.call(hands.set_hand, raised=True)

    async def on_hand_lower(self, frame: frames.HandLower) -> None:
        await self.call(hands.set_hand, raised=False)

    async def on_resume(self, frame: frames.Resume) -> None:
        assert self.view is not None
        await self.send_catch_up(await db_task(resume.catch_up)(view=self.view, last_seq=frame.last_seq))

    async def on_admit(self, frame: frames.HostAdmit) -> None:
        await self.call(host.admit, user_id=frame.user, everyone=frame.all)

    async def on_remove(self, frame: frames.HostRemove) -> None:
        await self.call(host.remove, user_id=frame.user)

    async def on_mute(self, frame: frames.HostMute) -> None:
        await self.call(host.mute, user_id=frame.user)

    async def on_end(self, frame: frames.HostEnd) -> None:
        await self.call(host.end_session)

    async def on_breakout_open(self, frame: frames.BreakoutOpen) -> None:
        await self.call(breakouts.open_breakouts, rooms=frame.assignments())

    async def on_breakout_close(self, frame: frames.BreakoutClose) -> None:
        await self.call(breakouts.close_breakouts)

    async def on_rtc_description(self, frame: frames.RtcOffer | frames.RtcAnswer) -> None:
        assert self.view is not None
        await relay(view=self.view, kind=frame.type, to=frame.to, sdp=frame.sdp)

    async def on_rtc_ice(self, frame: frames.RtcIce) -> None:
        assert self.view is not None
        await relay(view=self.view, kind="rtc.ice", to=frame.to, candidate=frame.candidate)

    async def call(self, service: Callable[..., Any], **kwargs: Any) -> Any:
        assert self.view is not None
        return await db_task(service)(member=self.view.member, **kwargs)

    # Outbound -----------------------------------------------------------------------------

    async def send_frame(self, frame: Mapping[str, Any]) -> None:
        await self.send(dumps(frame))

    async def send_state(self, fresh: events.RoomState) -> None:
        assert self.view is not None
        self.view.state_seq = fresh["seq"]
        self.view.breakout = fresh["you"]["breakout"]
        await self.send_frame(fresh)
        pending, self.pending = self.pending or [], None
        for entry in pending:
            if self.wants(entry.audience):
                await self.deliver(entry)
        signals, self.pending_signals = self.pending_signals, []
        for part, text in signals:
            await self.deliver_signal(part, text)

    async def send_catch_up(self, catch_up: resume.CatchUp) -> None:
        for text in catch_up.replay:
            await self.send(text)
        if catch_up.resync is not None:
            await self.send_frame(catch_up.resync)
        if catch_up.state is not None:
            await self.send_state(catch_up.state)
        if catch_up.history is not None:
            await self.send_frame(catch_up.history)

    # Called by the RoomHub ------------------------------------------------------------------

    def wants(self, audience: str) -> bool:
        if self.closing:
            return False
        if self.pending is not None:  # before room.state: keep everything, filter later
            return True
        return self.view is not None and self.view.sees(audience)

    async def deliver(self, entry: LogEntry, frame: PreparedFrame | None = None) -> None:
        if self.pending is not None:
            self.pending.append(entry)
            return
        view = self.view
        if view is None or entry.seq <= view.state_seq:
            return
        await self.send_prepared(frame or PreparedFrame(entry.frame_text))
        view.last_sent_seq = entry.seq
        if entry.control:
            await self.apply_control(view, entry.control)

    async def deliver_signal(self, part: str, frame_text: str) -> None:
        """A signaling frame addressed to this socket's user (signaling.py). The sender's
        check read Redis; this socket's own view must agree: admitted, and in the part of
        the room the frame was sent to (a move announced meanwhile wins)."""
        view = self.view
        if view is None or self.closing:
            return
        if self.pending is not None:
            self.pending_signals.append((part, frame_text))
            return
        if view.admitted and part_name(view.breakout) == part:
            await self.send(frame_text)

    async def apply_control(self, view: SocketView, control: dict[str, Any]) -> None:
        user_id = view.member.user_id
        if control.get("end"):
            self.closing = True
            await self.close(code=1000)
        elif control.get("remove") == user_id:
            self.closing = True
            await self.close(code=CLOSE_REMOVED)
        elif control.get("admit") == user_id and not view.admitted:
            view.admitted = True
            await self.send_state(await db_task(state.room_state)(member=view.member))
        elif "breakouts" in control:
            number = control["breakouts"].get(str(user_id))
            view.breakout = int(number) if number is not None else None

    async def bus_lost(self) -> None:
        self.closing = True
        with contextlib.suppress(Exception):
            await self.send_frame(events.resync("server_reconnecting"))
        await self.close(code=CLOSE_SERVICE_RESTART)

    async def went_silent(self) -> None:
        """No frame from the client for ROOM_IDLE_SECONDS: the connection is gone."""
        self.closing = True
        await self.close(code=CLOSE_IDLE)

    async def access_revoked(self, event: dict[str, Any]) -> None:
        """An access revocation for this socket's user or session (server/realtime.py).
        Before access is decided (connect), it is kept and weighed then."""
        if self.view is None:
            self.early_revocations.append(event)
            return
        code = self.revocation_code(self.view.member, event)
        if code is not None:
            self.closing = True
            await self.close(code=code)

    def revocation_code(self, member: RoomMember, event: dict[str, Any]) -> int | None:
        """The close code a revocation means for this socket; None if it is not about it."""
        if event.get("session_id") not in (None, self.session_id):
            return None
        if event.get("token_digest") not in (None, self.token_digest):
            return None  # about another of the user's tokens (another device)
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
    "rtc.offer": SessionRoomConsumer.on_rtc_description,
    "rtc.answer": SessionRoomConsumer.on_rtc_description,
    "rtc.ice": SessionRoomConsumer.on_rtc_ice,
}

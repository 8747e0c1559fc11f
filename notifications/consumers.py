"""/ws/notifications/?ticket=...&last_id=N: the caller's own notification feed."""

from __future__ import annotations

from typing import Any

from notifications import selectors
from server.realtime import user_group
from server.ws import (
    CLOSE_BAD_TICKET,
    CLOSE_RATE_LIMITED,
    PONG,
    FrameError,
    FrameGate,
    RealtimeConsumer,
    consume_ticket,
    db_task,
    dumps,
    error_frame,
    query_params,
    still_allowed,
)

# access.revoked reasons that end the session this socket belongs to.
CLOSING_REASONS = {"logout", "deactivated", "password_changed", "role_changed", "token_expired"}


def _last_id(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise FrameError("invalid", "last_id must be a whole number.")
    try:
        value = int(raw)
    except ValueError as exc:
        raise FrameError("invalid", "last_id must be a whole number.") from exc
    if value < 0 or value > 2**63 - 1:
        raise FrameError("invalid", "last_id is out of range.")
    return value


class NotificationFeedConsumer(RealtimeConsumer):
    user_id: int | None = None
    # Digest of the bearer token whose ticket opened this socket (None: a server-issued one).
    token_digest: str | None = None
    last_sent_id = 0

    async def connect(self) -> None:
        params = query_params(self.scope)
        holder = await consume_ticket(ticket=params.get("ticket", ""))
        await self.accept()
        if holder is None:
            await self.close(code=CLOSE_BAD_TICKET)
            return
        self.gate = FrameGate()
        # In the group before access is checked (server/ws.py), and before the backlog is
        # read so nothing created in between is missed; last_sent_id drops anything that
        # arrives twice.
        group = user_group(holder.user_id)
        await self.channel_layer.group_add(group, self.channel_name)
        if await still_allowed(holder) is None:
            await self.channel_layer.group_discard(group, self.channel_name)
            await self.close(code=CLOSE_BAD_TICKET)
            return
        self.user_id = holder.user_id
        self.token_digest = holder.token_digest
        try:
            since = _last_id(params.get("last_id", "0"))
        except FrameError as error:
            await self.send(dumps(error_frame(error.code, error.message)))
            since = 0
        await self.replay(since)

    async def disconnect(self, code: int) -> None:
        if self.user_id is not None:
            await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)

    async def replay(self, since: int) -> None:
        assert self.user_id is not None
        self.last_sent_id = max(self.last_sent_id, since)
        for frame in await db_task(selectors.unread_frames_since)(self.user_id, since):
            await self.send_notification(frame)

    async def send_notification(self, frame: dict[str, Any]) -> None:
        if frame["id"] <= self.last_sent_id:
            return
        self.last_sent_id = frame["id"]
        await self.send(dumps(frame))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user_id is None:
            return
        try:
            frame = self.gate.parse(text_data, bytes_data)
            if frame["type"] == "ping":
                await self.send_prepared(PONG)
            elif frame["type"] == "resume":
                if "last_id" not in frame:
                    raise FrameError("invalid", "resume needs last_id.")
                self.last_sent_id = 0
                await self.replay(_last_id(frame["last_id"]))
            else:
                raise FrameError("unknown_type", f"Unknown frame type {frame['type'][:40]!r}.")
        except FrameError as error:
            await self.send(dumps(error_frame(error.code, error.message)))
            if self.gate.refused():
                await self.close(code=CLOSE_RATE_LIMITED)

    # Channel-layer events -----------------------------------------------------------------

    async def notification_created(self, event: dict[str, Any]) -> None:
        await self.send_notification(event["frame"])

    async def access_revoked(self, event: dict[str, Any]) -> None:
        if event.get("reason") not in CLOSING_REASONS or "session_id" in event:
            return
        # A revocation about one token (it expired) closes only the sockets it opened.
        if "token_digest" in event and event["token_digest"] != self.token_digest:
            return
        await self.close(code=CLOSE_BAD_TICKET)

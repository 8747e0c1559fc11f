"""Daphne (Twisted) tuning for the websocket frame path.

Twisted's TCP transport never writes on ``write()``: it buffers the bytes, registers the
socket as a writer with the event loop (``epoll_ctl``), waits for the next loop pass to
report it writable, sends, and unregisters (``epoll_ctl`` again). For a chat server that
is every outbound frame: two extra system calls and a whole extra loop pass each, which
on the bench was the largest single cost of a ping (S1) and of each room delivery (S2).

``install()`` makes ``write()`` send at once when nothing is queued before it, as
asyncio's own transports do, and falls back to Twisted's buffered path for whatever the
kernel did not take. Errors are not handled here: on a failed send the bytes go to the
buffer, and Twisted's ``doWrite`` meets the same error on its next pass and closes the
connection the usual way, so connection loss is still reported from the reactor, never
from inside a protocol's ``write()``.

It also takes Twisted's log context off every read (``_reactor_calls_without_log_context``),
unmasks inbound frames in C (``_unmask_with_websockets``) and skips autobahn's per-message
event when nothing listens for it (``_no_message_event_without_listeners``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.frames import apply_mask

_installed = False


def install() -> None:
    """Patch Twisted's TCP server transport and autobahn's log arguments, once. Called by
    server/serve.py in the web process only."""
    global _installed
    if _installed:
        return
    from twisted.internet import tcp

    buffered_write = tcp.Server.write

    def write(self: Any, data: bytes) -> None:
        if (
            type(data) is bytes
            and data
            and self.connected
            and not self.TLS
            and not self.disconnecting
            and not self._writeDisconnected
            and not self._writeDisconnecting
            and not self._tempDataLen
            and len(self.dataBuffer) == self.offset
        ):
            sent = self.writeSomeData(data)
            if type(sent) is int and sent > 0:
                if sent == len(data):
                    return
                data = data[sent:]
        buffered_write(self, data)

    tcp.Server.write = write  # type: ignore[method-assign]
    _reactor_calls_without_log_context()
    _unmask_with_websockets()
    _plain_autobahn_log_arguments()
    _no_message_event_without_listeners()
    _installed = True


def _reactor_calls_without_log_context() -> None:
    """Twisted's asyncio reactor runs every read (and buffered write) of a connection
    through ``log.callWithLogger``, which copies a log-context dict and pushes it on a
    thread-local stack so that Twisted's own log lines name the connection: about a tenth
    of a ping's CPU (bench S1). Daphne sends Twisted's log nowhere (at its default
    verbosity, as every web process runs), and the reactor's ``_readOrWrite``, which the
    wrapper calls, already catches a failing read or write, logs it and drops the
    connection; so the call is made plainly."""
    from twisted.internet import asyncioreactor

    def call(logger: object, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    asyncioreactor.callWithLogger = call


class Unmasker:
    """autobahn's XOR masker interface (``process``, ``pointer``, ``reset``) on the
    ``websockets`` package's ``apply_mask`` (C). A frame's payload may arrive in several
    reads, so the mask is rotated to where the previous part ended."""

    __slots__ = ("_mask", "_ptr")

    def __init__(self, mask: bytes, length: int | None = None) -> None:
        self._mask = mask
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        shift = self._ptr & 3
        mask = self._mask[shift:] + self._mask[:shift] if shift else self._mask
        self._ptr += len(data)
        return apply_mask(data, mask)


def _unmask_with_websockets() -> None:
    """Every frame a client sends is masked, and autobahn builds a masker object per
    frame: its native (CFFI) one costs about 4 us to create and run on a ping, its pure
    Python one about 3; ``Unmasker`` about 0.5 (bench S1: about a tenth of a ping's CPU).
    autobahn's protocol looks ``create_xor_masker`` up at each frame; a server never
    masks what it sends, so only inbound frames take this."""
    from autobahn.websocket import protocol

    protocol.create_xor_masker = Unmasker


def _plain_autobahn_log_arguments() -> None:
    """autobahn builds coloured arguments (click.style) for a debug line on every frame it
    sends, before its logger drops the line: about a tenth of a ping's CPU. Plain values
    instead; only the look of autobahn's own debug lines changes."""
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    def plain_type(obj: Any) -> Any:
        return getattr(obj, "__qualname__", obj)

    def plain_value(value: Any, color: str = "", bold: bool = True) -> Any:
        return value

    for module in (protocol, twisted_websocket):
        module.hltype = plain_type  # type: ignore[attr-defined]
        module.hlval = plain_value  # type: ignore[attr-defined]


def _no_message_event_without_listeners() -> None:
    """After handing a message to ``onMessage`` (Daphne's, which queues it for the
    application), autobahn also fires a "message" event for listeners registered with
    ``protocol.on("message", ...)``. Daphne registers none, yet each firing makes a
    Deferred and adds callbacks to it: about a twentieth of a ping's CPU (bench S1). With
    no listener (``_listeners`` is None, when ``fire`` itself does nothing) the message is
    delivered the same way without the event; with one, autobahn's own method runs."""
    from autobahn.websocket.protocol import WebSocketProtocol

    deliver_and_fire = WebSocketProtocol.onMessageEnd

    def onMessageEnd(self: Any) -> None:
        if self._listeners is not None:
            deliver_and_fire(self)
            return
        if not self.failedByMe:
            payload = b"".join(self.message_data)
            if self.trackedTimings:
                self.trackedTimings.track("onMessage")
            self._onMessage(payload, self.message_is_binary)
        self.message_data = None

    WebSocketProtocol.onMessageEnd = onMessageEnd  # type: ignore[method-assign]

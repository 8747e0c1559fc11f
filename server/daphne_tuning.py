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
"""

from __future__ import annotations

from typing import Any

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
    _plain_autobahn_log_arguments()
    _installed = True


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

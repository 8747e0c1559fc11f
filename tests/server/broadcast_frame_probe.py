"""Run as ``python -m tests.server.broadcast_frame_probe``: a room broadcast's prepared
frame (server.ws.BroadcastFrame, RealtimeConsumer.send_broadcast) against autobahn's own
``sendMessage`` on a server protocol over an in-memory transport, printing one JSON object
of what it saw.

It runs in its own process because connecting an autobahn protocol installs a Twisted
reactor, which is once per process.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from typing import Any

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.testing import StringTransport

TEXTS = ['{"type":"chat.message","text":"é ✓"}', "x" * 300, "y" * 70_000]  # 7-, 16- and 64-bit lengths


def open_protocol() -> tuple[WebSocketServerProtocol, StringTransport]:
    factory = WebSocketServerFactory()
    factory.protocol = WebSocketServerProtocol
    protocol: Any = factory.buildProtocol(None)  # Twisted types it as its generic Protocol
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.state = protocol.STATE_OPEN  # as after the opening handshake
    transport.clear()
    return protocol, transport


async def main() -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")  # the parent's DATABASE_URL, REDIS_URL
    django.setup()
    from server.ws import BroadcastFrame, RealtimeConsumer, autobahn_protocol

    report: dict[str, Any] = {}
    reference, reference_wire = open_protocol()
    protocol, wire = open_protocol()

    async def handle_reply(protocol: Any, message: dict[str, Any]) -> None:  # Daphne's shape
        raise AssertionError("a broadcast to an open connection took the ASGI send")

    consumer = RealtimeConsumer()
    consumer.base_send = functools.partial(handle_reply, protocol)
    consumer.wire = autobahn_protocol(consumer.base_send)
    report["found_the_protocol"] = consumer.wire is protocol
    report["other_send_has_none"] = autobahn_protocol(handle_reply) is None
    same = []
    for text in TEXTS:
        reference.sendMessage(text.encode())
        frame = BroadcastFrame(text)
        await consumer.send_broadcast(frame)
        await consumer.send_broadcast(frame)  # the second socket: framed once, sent again
        expected = reference_wire.value()
        same.append(wire.value() == expected + expected)
        reference_wire.clear()
        wire.clear()
    report["bytes_as_autobahn_frames_them"] = same

    sent: list[dict[str, Any]] = []

    async def asgi_send(message: dict[str, Any]) -> None:
        sent.append(message)

    consumer.base_send = asgi_send
    protocol.state = protocol.STATE_CLOSING
    await consumer.send_broadcast(BroadcastFrame("late"))
    report["closing_takes_the_asgi_send"] = sent == [{"type": "websocket.send", "text": "late"}]
    report["closing_wrote_nothing"] = wire.value() == b""
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))

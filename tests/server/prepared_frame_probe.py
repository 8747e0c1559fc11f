"""Run as ``python -m tests.server.prepared_frame_probe``: a room broadcast's prepared
frame (server.ws.PreparedFrame, RealtimeConsumer.send_prepared) against autobahn's own
``sendMessage`` on a server protocol over an in-memory transport, masked client frames
read through server/daphne_tuning.py's unmasker, autobahn's "message" event with and
without a listener, and the arguments autobahn gives its debug line for a frame it sends
(before and after the tuning), printing one JSON object of what it saw.

It runs in its own process because connecting an autobahn protocol installs a Twisted
reactor, which is once per process.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from typing import Any

import txaio
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet.testing import StringTransport

TEXTS = ['{"type":"chat.message","text":"é ✓"}', "x" * 300, "y" * 70_000]  # 7-, 16- and 64-bit lengths


class Reader(WebSocketServerProtocol):
    messages: list[bytes]

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.messages.append(payload)


def open_protocol() -> tuple[Any, StringTransport]:
    factory = WebSocketServerFactory()
    factory.protocol = Reader
    protocol: Any = factory.buildProtocol(None)  # Twisted types it as its generic Protocol
    transport = StringTransport()
    protocol.makeConnection(transport)
    # As after the opening handshake (autobahn's succeedHandshake).
    protocol.state = protocol.STATE_OPEN
    protocol.websocket_version = 13
    protocol.inside_message = False
    protocol.current_frame = None
    protocol.messages = []
    transport.clear()
    return protocol, transport


def debug_arguments_of_a_send() -> dict[str, Any]:
    """The arguments autobahn builds for its debug line about a frame it sends (its logger
    drops the line at Daphne's verbosity; the arguments are built first)."""
    protocol, _ = open_protocol()
    lines: list[dict[str, Any]] = []

    class Log:  # the part of txaio's logger that sendData uses
        def debug(self, format: str, **kwargs: Any) -> None:
            lines.append(kwargs)

    protocol.log = Log()
    protocol.sendMessage(b"x")
    sent = next(line for line in lines if "data_len" in line)
    return {"func": sent["func"], "data_len": sent["data_len"], "peer_unchanged": sent["peer"] == protocol.peer}


async def main() -> dict[str, Any]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")  # the parent's DATABASE_URL, REDIS_URL
    django.setup()
    from server import daphne_tuning
    from server.ws import PreparedFrame, RealtimeConsumer, autobahn_protocol

    async def handle_reply(protocol: Any, message: dict[str, Any]) -> None:  # Daphne's shape
        raise AssertionError("a broadcast to an open connection took the ASGI send")

    # Stock, before the tuning: autobahn's own log arguments, and no direct send.
    report: dict[str, Any] = {"log_args_stock": debug_arguments_of_a_send()}
    stock, _ = open_protocol()
    report["direct_send_stock"] = autobahn_protocol(functools.partial(handle_reply, stock)) is not None
    daphne_tuning.install()
    report["log_args_tuned"] = debug_arguments_of_a_send()

    reference, reference_wire = open_protocol()
    protocol, wire = open_protocol()

    consumer = RealtimeConsumer()
    consumer.base_send = functools.partial(handle_reply, protocol)
    consumer.wire = autobahn_protocol(consumer.base_send)
    report["found_the_protocol"] = consumer.wire is protocol
    report["other_send_has_none"] = autobahn_protocol(handle_reply) is None
    same = []
    for text in TEXTS:
        reference.sendMessage(text.encode())
        frame = PreparedFrame(text)
        await consumer.send_prepared(frame)
        await consumer.send_prepared(frame)  # the second socket: framed once, sent again
        expected = reference_wire.value()
        same.append(wire.value() == expected + expected)
        reference_wire.clear()
        wire.clear()
    report["bytes_as_autobahn_frames_them"] = same
    # A text frame of one socket's own goes to the open connection directly too.
    reference.sendMessage(TEXTS[0].encode())
    await consumer.send(TEXTS[0])
    report["text_sent_as_autobahn_frames_it"] = wire.value() == reference_wire.value()
    reference_wire.clear()
    wire.clear()

    sent: list[dict[str, Any]] = []

    async def asgi_send(message: dict[str, Any]) -> None:
        sent.append(message)

    consumer.base_send = asgi_send
    protocol.state = protocol.STATE_CLOSING
    await consumer.send_prepared(PreparedFrame("late"))
    await consumer.send("later")
    report["closing_takes_the_asgi_send"] = sent == [
        {"type": "websocket.send", "text": "late"},
        {"type": "websocket.send", "text": "later"},
    ]
    report["closing_wrote_nothing"] = wire.value() == b""

    # Inbound: frames masked as a client masks them, read back whole, fed to the protocol
    # in one read and byte by byte (a payload split over reads continues its mask).
    from websockets.frames import Frame, Opcode

    reader, _ = open_protocol()
    wire_bytes = [Frame(Opcode.TEXT, text.encode()).serialize(mask=True) for text in TEXTS]
    for data in wire_bytes:
        reader.dataReceived(data)
    for data in wire_bytes:
        for index in range(len(data)):
            reader.dataReceived(data[index : index + 1])
    report["masked_frames_read_back"] = reader.messages == [text.encode() for text in TEXTS] * 2
    reader.dataReceived(wire_bytes[0][:-1])  # a frame begun: its masker is the C one
    report["frame_masker"] = type(reader.current_frame_masker).__name__

    # autobahn's "message" event: skipped with no listener (Daphne registers none), fired
    # as before with one.
    fired: list[bytes] = []
    silent, _ = open_protocol()

    def record_event(event: str, *args: Any, **kwargs: Any) -> Any:
        fired.append(args[0])
        return txaio.create_future(result=[])  # type: ignore[attr-defined]  # as fire does

    silent.fire = record_event
    silent.dataReceived(wire_bytes[0])
    report["message_without_listener_delivered"] = silent.messages == [TEXTS[0].encode()]
    report["event_fired_without_listener"] = fired != []
    heard: list[bytes] = []
    listened, _ = open_protocol()
    listened.on("message", lambda payload, is_binary: heard.append(payload))
    listened.dataReceived(wire_bytes[0])
    report["message_with_listener_delivered"] = listened.messages == [TEXTS[0].encode()]
    report["listener_heard"] = heard == [TEXTS[0].encode()]
    return report


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))

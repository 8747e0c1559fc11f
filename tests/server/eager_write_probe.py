"""Run as ``python -m tests.server.eager_write_probe``: the web process's reactor set-up
(server/serve.py: uvloop, Daphne's Twisted reactor, server/daphne_tuning.py) with a TCP
server and client over loopback, printing one JSON object of what it saw: writes, and
reads without Twisted's log context.

It runs in its own process because installing a Twisted reactor is once per process.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import uvloop

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
import daphne.server  # noqa: E402,F401  (installs Twisted's asyncio reactor, as serve.py does)
from twisted.internet import protocol  # noqa: E402
from twisted.internet import reactor as _reactor  # noqa: E402
from twisted.python import context  # noqa: E402
from twisted.python.log import ILogContext  # noqa: E402

from server import daphne_tuning  # noqa: E402

# Larger than loopback socket buffers, so a write is only partly taken by the kernel.
reactor: Any = _reactor  # Twisted types the installed reactor as a module
BIG = bytes(range(256)) * (32 * 1024)  # 8 MiB
report: dict[str, object] = {}


class Probe(protocol.Protocol):
    transport: Any  # a twisted.internet.tcp connection


class Sender(Probe):
    def connectionMade(self) -> None:
        self.transport.write(b"first")
        report["small_write_waited_for_the_loop"] = self.transport in reactor.getWriters()
        self.transport.write(BIG)
        report["big_write_left_a_remainder"] = self.transport in reactor.getWriters()
        # Queued behind the remainder, never sent ahead of it.
        self.transport.write(b"last")
        self.transport.loseConnection()


class AfterPeerClosed(Probe):
    def dataReceived(self, data: bytes) -> None:
        # The peer has closed by now: writing must neither raise nor lose the loss report.
        for _ in range(3):
            self.transport.write(b"x" * 1024)
        report["write_after_peer_closed_raised"] = False

    def connectionLost(self, reason: object = None) -> None:
        report["connection_lost_reported"] = True
        third_test()


class RaisesOnRead(Probe):
    def dataReceived(self, data: bytes) -> None:
        raise RuntimeError("a protocol's fault")

    def connectionLost(self, reason: object = None) -> None:
        # The reactor caught the fault and dropped the connection; the loop still runs.
        report["failing_read_dropped_the_connection"] = True
        reactor.callLater(0.05, reactor.stop)


class Receiver(Probe):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        # Reads run without a Twisted log context of their own: the default one.
        report.setdefault("read_log_context", context.get(ILogContext)["system"])
        self.chunks.append(data)

    def connectionLost(self, reason: object = None) -> None:
        received = b"".join(self.chunks)
        report["bytes_in_order"] = received == b"first" + BIG + b"last"
        report["bytes_received"] = len(received)
        second_test()


class CloseAtOnce(Probe):
    def connectionMade(self) -> None:
        self.transport.write(b"hi")
        self.transport.loseConnection()


def second_test() -> None:
    factory = protocol.ServerFactory.forProtocol(AfterPeerClosed)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    client = protocol.ClientFactory.forProtocol(CloseAtOnce)
    reactor.connectTCP("127.0.0.1", port.getHost().port, client)


def third_test() -> None:
    port = reactor.listenTCP(0, protocol.ServerFactory.forProtocol(RaisesOnRead), interface="127.0.0.1")
    reactor.connectTCP("127.0.0.1", port.getHost().port, protocol.ClientFactory.forProtocol(CloseAtOnce))


def main() -> None:
    daphne_tuning.install()
    report["uvloop"] = isinstance(reactor._asyncioEventloop, uvloop.Loop)
    server = reactor.listenTCP(0, protocol.ServerFactory.forProtocol(Sender), interface="127.0.0.1")
    reactor.connectTCP("127.0.0.1", server.getHost().port, protocol.ClientFactory.forProtocol(Receiver))
    reactor.callLater(20, reactor.stop)
    reactor.run()
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()

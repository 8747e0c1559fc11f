"""Daphne (Twisted) tuning for the websocket frame path.

Twisted's TCP transport never writes on ``write()``: it buffers the bytes, registers the
socket as a writer with the event loop (``epoll_ctl``), waits for the next loop pass to
report it writable, sends, and unregisters (``epoll_ctl`` again). For a chat server that
is every outbound frame: two extra system calls and a whole extra loop pass each, which
on the bench was the largest single cost of a ping (S1) and of each room delivery (S2).

``install()`` makes ``write()`` send at once when nothing is queued before it, as
asyncio's own transports do, and falls back to Twisted's buffered path for whatever the
kernel did not take (``write``). Errors are not handled here: on a failed send the bytes
go to the buffer, and Twisted's ``doWrite`` meets the same error on its next pass and
closes the connection the usual way, so connection loss is still reported from the
reactor, never from inside a protocol's ``write()``.

It also takes Twisted's log context off every read (``log_context``), unmasks inbound
frames in C (``unmask``), gives autobahn's debug lines plain arguments (``log_args``),
skips autobahn's per-message event when nothing listens for it (``message_event``) and
lets server/ws.py write an open socket's frames to autobahn directly (``direct_send``).

Each patch replaces, or leans on, private code of Daphne's libraries, so each one is
installed only over the code it was written against: the installed daphne, twisted and
autobahn inside ``COMPATIBLE_VERSIONS`` (the ranges pyproject.toml pins; a test keeps the
two equal) and every function it replaces or relies on found, with the same source
(``written_against``: a fingerprint of each function's source). Otherwise that patch is
left out, with one warning line naming it and why, and the stock code runs. After an
upgrade, ``python -m server.daphne_tuning`` prints what differs; re-read the changed code
against the patch before updating a fingerprint. ``WS_SERVER_TUNING=0`` leaves all of them
out, ``WS_SERVER_TUNING_OFF=write,unmask`` the ones named (to measure each one's gain).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import pkgutil
import sys
import textwrap
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version
from websockets.frames import apply_mask

logger = logging.getLogger(__name__)

# The versions the patches were written and measured against: the same ranges as in
# pyproject.toml (tests/server/test_daphne_tuning.py keeps them equal).
COMPATIBLE_VERSIONS: Mapping[str, str] = {
    "daphne": ">=4.2.3,<4.3",
    "twisted": ">=26.10,<27",
    "autobahn": ">=26.10.2,<27",
}

# (object, attribute name, new value): what a patch sets when it is installed.
Replacement = tuple[Any, str, Any]


@dataclass(frozen=True)
class Patch:
    name: str  # as WS_SERVER_TUNING_OFF names it
    distributions: tuple[str, ...]  # whose versions must be in COMPATIBLE_VERSIONS
    # "module:qualname" of each function it replaces or relies on -> source fingerprint.
    written_against: Mapping[str, str]
    # Builds the replacements (importing what they patch) once the checks have passed.
    replacements: Callable[[], list[Replacement]]


def fingerprint(function: Any) -> str:
    """A short hash of a function's source: any edit to it, even a comment, changes it, so
    a patch never runs over code nobody has read against it."""
    return hashlib.sha256(textwrap.dedent(inspect.getsource(function)).encode()).hexdigest()[:16]


def mismatch(patch: Patch) -> str | None:
    """Why ``patch`` does not fit the installed code (the first reason), or None when it does."""
    return next(_mismatches(patch), None)


def _mismatches(patch: Patch) -> Iterator[str]:
    for distribution in patch.distributions:
        allowed = COMPATIBLE_VERSIONS[distribution]
        try:
            installed = metadata.version(distribution)
            fits = Version(installed) in SpecifierSet(allowed)
        except metadata.PackageNotFoundError:
            yield f"{distribution} is not installed"
            continue
        except InvalidVersion:
            fits = False
        if not fits:
            yield f"{distribution} {installed} is outside {allowed}, the versions it was written against"
    for path, expected in patch.written_against.items():
        try:
            found = fingerprint(pkgutil.resolve_name(path))
        except (ImportError, AttributeError, ValueError):
            yield f"{path} is missing"
            continue
        except (OSError, TypeError):
            yield f"the source of {path} cannot be read"
            continue
        if found != expected:
            yield f"{path} is not the code it was written against (source {found}, expected {expected})"


_installed: list[str] | None = None
# Whether server/ws.py may write frames to a socket's autobahn protocol itself (set by the
# "direct_send" patch); otherwise every frame takes Daphne's ASGI send.
direct_send = False


def install(
    *, enabled: bool = True, off: Collection[str] = (), apply: Callable[[Any, str, Any], None] = setattr
) -> list[str]:
    """Install every patch that fits the installed code, except those in ``off`` (all of
    them when not ``enabled``), once per process; returns the names installed. server/serve.py
    calls it in the web process only, with WS_SERVER_TUNING and WS_SERVER_TUNING_OFF.
    ``apply`` sets each replacement (tests pass one that undoes itself)."""
    global _installed
    unknown = sorted(set(off) - {patch.name for patch in PATCHES})
    if unknown:
        names = ", ".join(patch.name for patch in PATCHES)
        raise ImproperlyConfigured(f"WS_SERVER_TUNING_OFF names unknown patches {unknown}; known: {names}")
    if _installed is not None:
        return _installed
    installed: list[str] = []
    for patch in PATCHES if enabled else ():
        if patch.name in off:
            continue
        reason = mismatch(patch)
        if reason is not None:
            logger.warning("Daphne tuning %r left out, stock behaviour kept: %s", patch.name, reason)
            continue
        for owner, attribute, value in patch.replacements():
            apply(owner, attribute, value)
        installed.append(patch.name)
    logger.info("Daphne tuning installed: %s", ", ".join(installed) or "none")
    _installed = installed
    return installed


def _write_at_once() -> list[Replacement]:
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

    return [(tcp.Server, "write", write)]


def _reactor_calls_without_log_context() -> list[Replacement]:
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

    return [(asyncioreactor, "callWithLogger", call)]


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


def _unmask_with_websockets() -> list[Replacement]:
    """Every frame a client sends is masked, and autobahn builds a masker object per
    frame: its native (CFFI) one costs about 4 us to create and run on a ping, its pure
    Python one about 3; ``Unmasker`` about 0.5 (bench S1: about a tenth of a ping's CPU).
    autobahn's protocol looks ``create_xor_masker`` up at each frame (``processData``); a
    server never masks what it sends, so only inbound frames take this."""
    from autobahn.websocket import protocol

    return [(protocol, "create_xor_masker", Unmasker)]


def plain_type(obj: Any) -> Any:
    return getattr(obj, "__qualname__", obj)


def plain_value(val: Any, color: str = "white", bold: bool = True) -> Any:
    return val


def _plain_autobahn_log_arguments() -> list[Replacement]:
    """autobahn builds coloured arguments (click.style) for a debug line on every frame it
    sends, before its logger drops the line: about a tenth of a ping's CPU. Plain values
    instead, with the same signatures; only the look of autobahn's own debug lines changes."""
    from autobahn.twisted import websocket as twisted_websocket
    from autobahn.websocket import protocol

    return [
        (module, name, plain)
        for module in (protocol, twisted_websocket)
        for name, plain in (("hltype", plain_type), ("hlval", plain_value))
    ]


def _no_message_event_without_listeners() -> list[Replacement]:
    """After handing a message to ``onMessage`` (Daphne's, which queues it for the
    application), autobahn also fires a "message" event for listeners registered with
    ``protocol.on("message", ...)``. Daphne registers none, yet each firing makes a
    Deferred and adds callbacks to it: about a twentieth of a ping's CPU (bench S1). With
    no listener (``_listeners`` is None, when ``fire`` itself does nothing but return a
    finished Deferred) the message is delivered the same way without the event; with one,
    autobahn's own method runs. The body is a copy of autobahn's up to the event."""
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

    return [(WebSocketProtocol, "onMessageEnd", onMessageEnd)]


def _send_without_daphnes_reply_path() -> list[Replacement]:
    """server/ws.py writes an open socket's text frames with autobahn's ``sendMessage`` /
    ``sendPreparedMessage`` on the protocol Daphne binds into the ASGI ``send``
    (``partial(Server.handle_reply, protocol)``, in ``create_application``), skipping
    Daphne's coroutine, ``handle_reply`` and ``serverSend``, which for an open socket come
    to the same call (bench S1, S2). The same call only while that is Daphne's code."""
    return [(sys.modules[__name__], "direct_send", True)]


PATCHES: tuple[Patch, ...] = (
    Patch(
        "write",
        ("daphne", "twisted"),
        {
            "twisted.internet.tcp:Server.write": "9a1ac7496539526b",
            # The buffered path it falls back to, whose state it reads, and what sends the rest.
            "twisted.internet.abstract:FileDescriptor.write": "b3410de7a82777bb",
            "twisted.internet.abstract:FileDescriptor.doWrite": "33b469b3af894e6a",
            "twisted.internet.tcp:Connection.writeSomeData": "e3d4a1d1f7d66a15",
        },
        _write_at_once,
    ),
    Patch(
        "log_context",
        ("daphne", "twisted"),
        {
            "twisted.internet.asyncioreactor:callWithLogger": "802f8564bca3531f",
            # Where the reactor calls it, and the call inside that catches a failing read.
            "twisted.internet.asyncioreactor:AsyncioSelectorReactor.addReader": "8a0c860dba6c1786",
            "twisted.internet.asyncioreactor:AsyncioSelectorReactor.addWriter": "dfe6b735cb8a4d16",
            "twisted.internet.asyncioreactor:AsyncioSelectorReactor._readOrWrite": "2e9bc5e808046da4",
        },
        _reactor_calls_without_log_context,
    ),
    Patch(
        "unmask",
        ("daphne", "autobahn"),
        {
            "autobahn.websocket.protocol:create_xor_masker": "240d02cb93d1dbef",
            # The one caller on a server's path, and how it uses the masker.
            "autobahn.websocket.protocol:WebSocketProtocol.processData": "3ac2ab517b34f9a9",
        },
        _unmask_with_websockets,
    ),
    Patch(
        "log_args",
        ("daphne", "autobahn"),
        {
            "autobahn.websocket.protocol:hltype": "7db6418e1bc5e63a",
            "autobahn.websocket.protocol:hlval": "c6a73ec8e6664a13",
            "autobahn.twisted.websocket:hltype": "7db6418e1bc5e63a",
            "autobahn.twisted.websocket:hlval": "c6a73ec8e6664a13",
        },
        _plain_autobahn_log_arguments,
    ),
    Patch(
        "message_event",
        ("daphne", "autobahn"),
        {
            # Copied up to the event: any change to it must be copied again.
            "autobahn.websocket.protocol:WebSocketProtocol.onMessageEnd": "dd5576273c0ab839",
            # With no listener it does nothing but return a finished Deferred.
            "autobahn.util:ObservableMixin.fire": "924015403c2f2b79",
        },
        _no_message_event_without_listeners,
    ),
    Patch(
        "direct_send",
        ("daphne", "autobahn"),
        {
            # Where Daphne binds the protocol into send, and the path send takes to autobahn.
            "daphne.server:Server.create_application": "6d6da219bd73c133",
            "daphne.server:Server.handle_reply": "09098600509d10a2",
            "daphne.ws_protocol:WebSocketProtocol.handle_reply": "f750e4ea30241e8f",
            "daphne.ws_protocol:WebSocketProtocol.serverSend": "7ad2b1f417d5b279",
        },
        _send_without_daphnes_reply_path,
    ),
)


def _report() -> None:
    """``python -m server.daphne_tuning``: each patch, and everything that differs from what
    it was written against (after an upgrade)."""
    for patch in PATCHES:
        reasons = list(_mismatches(patch))
        print(f"{patch.name}: {'fits' if not reasons else 'left out'}")
        for reason in reasons:
            print(f"    {reason}")


if __name__ == "__main__":
    _report()

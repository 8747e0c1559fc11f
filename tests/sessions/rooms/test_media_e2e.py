"""End to end, media: two WebRTC peers (aiortc), each signed in to the media endpoint and
holding a room socket on its own real Daphne process, exchange offer, answer and ICE
candidates through the room's signaling (relayed from one process to the other) and open
a data channel over loopback, then send a message across it."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import aioice.ice
import orjson
import pytest
from aiortc import RTCConfiguration, RTCDataChannel, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp
from channels.db import database_sync_to_async
from knox.models import AuthToken
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from accounts.models import User
from tests.processes import daphne, free_port
from tests.sessions.rooms.support import open_room, ticket_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MESSAGE = "hello across the data channel"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """ICE gathers the loopback address only: no packet leaves this machine."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield


@database_sync_to_async
def bearer_token(user: User) -> str:
    return AuthToken.objects.create(user=user)[1]


def get_json(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


class Peer:
    """One person: a room socket on one server, and a WebRTC peer connection whose
    signaling goes through that socket (trickle ICE: candidates leave the SDP and travel
    as rtc.ice frames, then an empty one ends them)."""

    def __init__(self, user: User, port: int, session_id: int) -> None:
        self.user, self.port, self.session_id = user, port, session_id
        self.ws: ClientConnection | None = None
        self.pc: RTCPeerConnection | None = None
        self.received: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.relayed: list[str] = []  # the rtc frame types this peer received

    async def enter(self) -> None:
        self.ws = await connect(
            f"ws://127.0.0.1:{self.port}/ws/sessions/{self.session_id}/?ticket={await ticket_for(self.user)}",
            origin=Origin(f"http://127.0.0.1:{self.port}"),
            open_timeout=10,
        )
        state = orjson.loads(await self.ws.recv())
        assert state["type"] == "room.state" and state["you"]["admitted"], state

    async def configure(self) -> dict[str, Any]:
        """The media endpoint's answer, turned into this peer's ICE configuration."""
        url = f"http://127.0.0.1:{self.port}/api/v1/sessions/{self.session_id}/media/"
        settings = await asyncio.to_thread(get_json, url, await bearer_token(self.user))
        servers = [RTCIceServer(**server) for server in settings["ice_servers"]]
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self.pc.on("datachannel", self._on_channel)
        return settings

    def _on_channel(self, channel: RTCDataChannel) -> None:
        channel.on("message", lambda message: settle(self.received, message))

    async def send(self, frame: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(orjson.dumps(frame).decode())

    async def send_description(self, kind: str, to: int) -> None:
        """Our local description without its candidates, then each candidate, then the end."""
        assert self.pc is not None and self.pc.localDescription is not None
        lines = self.pc.localDescription.sdp.splitlines()
        candidates = [line.removeprefix("a=") for line in lines if line.startswith("a=candidate:")]
        mid = next(line.removeprefix("a=mid:") for line in lines if line.startswith("a=mid:"))
        bare = [line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))]
        await self.send({"type": kind, "to": to, "sdp": "\r\n".join(bare) + "\r\n"})
        assert candidates and all(" 127.0.0.1 " in candidate for candidate in candidates), candidates
        for candidate in [*candidates, ""]:
            await self.send({"type": "rtc.ice", "to": to, "candidate": {"candidate": candidate, "sdpMid": mid}})

    async def call(self, to: int) -> RTCDataChannel:
        assert self.pc is not None
        channel = self.pc.createDataChannel("room")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.send_description("rtc.offer", to)
        return channel

    async def handle_signaling(self) -> None:
        """Answer offers and take candidates, as a client does, until cancelled."""
        assert self.ws is not None and self.pc is not None
        async for raw in self.ws:
            frame = orjson.loads(raw)
            kind = frame["type"]
            if not kind.startswith("rtc."):
                assert kind != "error", frame
                continue
            self.relayed.append(kind)
            if kind in ("rtc.offer", "rtc.answer"):
                await self.pc.setRemoteDescription(RTCSessionDescription(frame["sdp"], kind.removeprefix("rtc.")))
                if kind == "rtc.offer":
                    await self.pc.setLocalDescription(await self.pc.createAnswer())
                    await self.send_description("rtc.answer", frame["from"])
            else:
                text = frame["candidate"]["candidate"]
                if not text:
                    await self.pc.addIceCandidate(None)
                    continue
                candidate = candidate_from_sdp(text.removeprefix("candidate:"))
                candidate.sdpMid = frame["candidate"]["sdpMid"]
                await self.pc.addIceCandidate(candidate)

    async def close(self) -> None:
        if self.pc is not None:
            await self.pc.close()
        if self.ws is not None:
            await self.ws.close()


async def test_two_peers_on_two_servers_open_a_data_channel_through_the_room() -> None:
    room = await open_room(size=2, admit_directly=True)
    callee_user, caller_user = room.participants
    port_a, port_b = free_port(), free_port()
    with daphne(port_a), daphne(port_b):
        async with AsyncExitStack() as stack:
            caller = Peer(caller_user, port_a, room.session.pk)
            callee = Peer(callee_user, port_b, room.session.pk)
            for peer in (callee, caller):  # the one arriving offers (docs/websocket-protocol.md, Media)
                stack.push_async_callback(peer.close)
                await peer.enter()
                settings = await peer.configure()
                assert settings["mode"] == "mesh" and settings["ice_servers"] == []  # no STUN/TURN configured
            readers = [asyncio.create_task(peer.handle_signaling()) for peer in (caller, callee)]
            try:
                channel = await caller.call(callee_user.pk)
                opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                channel.on("open", lambda: settle(opened, None))
                await asyncio.wait_for(opened, timeout=15)
                channel.send(MESSAGE)
                assert await asyncio.wait_for(callee.received, timeout=10) == MESSAGE
            finally:
                for reader in readers:
                    reader.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
            assert callee.relayed[0] == "rtc.offer" and set(callee.relayed[1:]) == {"rtc.ice"}
            assert caller.relayed[0] == "rtc.answer" and set(caller.relayed[1:]) == {"rtc.ice"}
            assert caller.pc is not None and caller.pc.connectionState == "connected"

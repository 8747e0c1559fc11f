"""End to end: real Daphne processes on the test database and Redis, driven by a real
websocket client. Two processes share a room; a process dies; a socket drops without a
close frame; access ends on another process; Redis restarts under a live room."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import orjson
import pytest
import redis
from channels.db import database_sync_to_async
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from accounts.services import _ticket_key
from groups import services as group_services
from groups.models import TherapyGroup
from server.embedded import _redis_server_binary
from sessions.models import AttendanceSegment, ChatMessage
from tests.processes import daphne, free_port, wait_for_port
from tests.sessions.rooms.support import OpenRoom, open_room, ticket_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Short timers so faults show within seconds.
FAST_ROOMS = {
    "ROOM_HEARTBEAT_SECONDS": "0.5",
    "ROOM_SWEEP_SECONDS": "0.5",
    "ROOM_PRESENCE_TIMEOUT_SECONDS": "2",
    "ROOM_IDLE_SECONDS": "30",
}


class Client:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def expect(self, kind: str, timeout: float = 5, **fields: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout=max(0.01, deadline - time.monotonic()))
            frame = orjson.loads(raw)
            self.frames.append(frame)
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items()):
                return dict(frame)

    async def drain(self, quiet: float = 0.5) -> None:
        while True:
            try:
                self.frames.append(orjson.loads(await asyncio.wait_for(self.ws.recv(), timeout=quiet)))
            except TimeoutError:
                return

    async def close_code(self, timeout: float = 5) -> int | None:
        try:
            while True:
                self.frames.append(orjson.loads(await asyncio.wait_for(self.ws.recv(), timeout=timeout)))
        except ConnectionClosed:
            return self.ws.close_code
        except TimeoutError:
            return None

    def chat_seqs(self) -> list[int]:
        return [frame["seq"] for frame in self.frames if frame.get("type") == "chat.message"]


async def _open(port: int, session_id: int, ticket: str) -> Client:
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/sessions/{session_id}/?ticket={ticket}",
        origin=Origin(f"http://127.0.0.1:{port}"),
        open_timeout=10,
    )
    client = Client(ws)
    await client.expect("room.state")
    return client


async def enter(port: int, room: OpenRoom, user: Any) -> Client:
    return await _open(port, room.session.pk, await ticket_for(user))


@asynccontextmanager
async def clients() -> AsyncIterator[list[Client]]:
    opened: list[Client] = []
    try:
        yield opened
    finally:
        for client in opened:
            await client.ws.close()


@database_sync_to_async
def _segments(user_id: int) -> list[AttendanceSegment]:
    return list(AttendanceSegment.objects.filter(user_id=user_id).order_by("id"))


@contextmanager
def two_servers(extra_env: dict[str, str] | None = None) -> Iterator[tuple[int, int]]:
    first, second = free_port(), free_port()
    env = {**FAST_ROOMS, **(extra_env or {})}
    with daphne(first, env), daphne(second, env):
        yield first, second


async def test_two_processes_share_a_room_without_loss_or_duplicates() -> None:
    room = await open_room(size=4, admit_directly=True)
    with two_servers() as (a, b):
        async with clients() as opened:
            for index, user in enumerate(room.participants):
                opened.append(await enter(a if index % 2 == 0 else b, room, user))
            await asyncio.sleep(0.3)
            for client in opened:
                await client.drain(0.2)
            per_sender = 5
            for round_number in range(per_sender):
                for index, client in enumerate(opened):
                    await client.send(
                        {"type": "chat.send", "text": f"m{round_number}", "client_id": f"{index}-{round_number}"}
                    )
            expected = per_sender * len(opened)
            for client in opened:
                while len(client.chat_seqs()) < expected:
                    await client.expect("chat.message")
                await client.drain(0.3)
                seqs = client.chat_seqs()
                assert len(seqs) == expected == len(set(seqs)), "every message once on both processes"
                assert seqs == sorted(seqs), "in seq order"
            assert opened[0].chat_seqs() == opened[1].chat_seqs()
    assert await database_sync_to_async(ChatMessage.objects.filter(session=room.session).count)() == expected


async def test_process_restart_then_resume_gets_exactly_what_was_missed() -> None:
    room = await open_room(size=2, admit_directly=True)
    staying, moving = room.participants
    a, b = free_port(), free_port()
    with daphne(a, FAST_ROOMS):
        async with clients() as opened:
            stayer = await enter(a, room, staying)
            opened.append(stayer)
            with daphne(b, FAST_ROOMS) as server_b:
                mover = await enter(b, room, moving)
                await stayer.send({"type": "chat.send", "text": "before", "client_id": "s-0"})
                last_seen = (await mover.expect("chat.message"))["seq"]
                # The process dies without closing anything.
                os.killpg(server_b.process.pid, signal.SIGKILL)
                server_b.process.wait()
            for number in range(1, 4):
                await stayer.send({"type": "chat.send", "text": f"missed {number}", "client_id": f"s-{number}"})
            # Its presence is swept by the surviving process: left, attendance closed.
            left = await stayer.expect("presence.left", timeout=8)
            assert left["user"]["id"] == moving.pk
            segments = await _segments(moving.pk)
            assert segments[-1].left_at is not None and segments[-1].left_reason == "timeout"
            # The client reconnects to a live process and resumes.
            back = await enter(a, room, moving)
            opened.append(back)
            await back.send({"type": "resume", "last_seq": last_seen})
            replayed = [await back.expect("chat.message") for _ in range(3)]
            assert [frame["text"] for frame in replayed] == ["missed 1", "missed 2", "missed 3"]
            await back.drain(0.5)
            texts = [frame["text"] for frame in back.frames if frame.get("type") == "chat.message"]
            assert texts == ["missed 1", "missed 2", "missed 3"], "no duplicates"


async def test_socket_dropped_without_close_frame_ends_presence_and_attendance() -> None:
    room = await open_room(size=2, admit_directly=True)
    port = free_port()
    with daphne(port, FAST_ROOMS):
        async with clients() as opened:
            watcher = await enter(port, room, room.participants[0])
            opened.append(watcher)
            dropper = await enter(port, room, room.participants[1])
            await watcher.expect("presence.joined")
            dropper.ws.transport.abort()  # no close frame, connection reset
            left = await watcher.expect("presence.left", timeout=5)
            assert left["user"]["id"] == room.participants[1].pk
            segment = (await _segments(room.participants[1].pk))[-1]
            assert segment.left_at is not None


async def test_silent_client_is_closed_and_leaves() -> None:
    room = await open_room(size=2, admit_directly=True)
    port = free_port()
    with daphne(port, {**FAST_ROOMS, "ROOM_IDLE_SECONDS": "1.5"}) as server:
        async with clients() as opened:
            watcher = await enter(port, room, room.participants[0])
            opened.append(watcher)
            silent = await enter(port, room, room.participants[1])
            await watcher.expect("presence.joined")
            pinging = asyncio.create_task(_keep_pinging(watcher))
            try:
                assert await silent.close_code(timeout=6) == 4408, server.text()
                await watcher.expect("presence.left", timeout=3)
            finally:
                pinging.cancel()


async def _keep_pinging(client: Client) -> None:
    while True:
        await client.send({"type": "ping"})
        await asyncio.sleep(0.3)


async def test_removal_from_group_closes_socket_on_another_process_within_a_second() -> None:
    room = await open_room(size=1, admit_directly=True)
    port = free_port()
    with daphne(port, FAST_ROOMS):
        participant = await enter(port, room, room.participants[0])
        started = time.monotonic()
        await database_sync_to_async(_remove_from_group)(room)
        assert await participant.close_code(timeout=3) == 4403
        assert time.monotonic() - started < 1.0


def _remove_from_group(room: OpenRoom) -> None:
    group = TherapyGroup.objects.get(sessions=room.session)
    group_services.remove_member(by=room.lead, group=group, participant=room.participants[0])


@contextmanager
def private_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    command = [_redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for_port(port)
    try:
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.kill()
        process.wait()


def _ticket_in(url: str, user_id: int) -> str:
    ticket = f"e2e-{user_id}-{time.monotonic_ns()}"
    redis.Redis.from_url(url).set(_ticket_key(ticket), str(user_id), ex=60)
    return ticket


async def _reconnect(port: int, session_id: int, url: str, user_id: int) -> Client:
    """What a client does after 4503: reconnect with a new ticket, backing off a little."""
    for attempt in range(10):
        try:
            return await _open(port, session_id, _ticket_in(url, user_id))
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 4503
            await asyncio.sleep(0.1 * (attempt + 1))
    raise AssertionError("could not reconnect")


async def test_redis_restart_mid_session_resyncs_clients_without_silent_loss() -> None:
    room = await open_room(size=2, admit_directly=True)
    speaker, listener = room.participants
    port = free_port()
    with private_redis() as (url, redis_process), daphne(port, {**FAST_ROOMS, "REDIS_URL": url}):
        a = await _open(port, room.session.pk, _ticket_in(url, speaker.pk))
        b = await _open(port, room.session.pk, _ticket_in(url, listener.pk))
        await a.send({"type": "chat.send", "text": "one", "client_id": "a-1"})
        last_seen = (await b.expect("chat.message"))["seq"]
        # Restart Redis on the same port with none of its data.
        redis_port = int(url.rsplit(":", 1)[1].split("/")[0])
        redis_process.kill()
        redis_process.wait()
        restarted = subprocess.Popen(
            [
                _redis_server_binary(),
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert wait_for_port(redis_port)
            started = time.monotonic()
            assert await b.close_code(timeout=5) == 4503, "told to reconnect"
            assert time.monotonic() - started < 5
            assert any(frame.get("type") == "resync" for frame in b.frames)
            await a.close_code(timeout=5)
            # Clients come back and resume: the counter restarted, so they are told to resync.
            b2 = await _reconnect(port, room.session.pk, url, listener.pk)
            await b2.send({"type": "resume", "last_seq": last_seen + 5})
            await b2.expect("resync")
            await b2.expect("room.state")
            a2 = await _reconnect(port, room.session.pk, url, speaker.pk)
            await a2.send({"type": "chat.send", "text": "two", "client_id": "a-2"})
            after = await b2.expect("chat.message", text="two")
            assert after["seq"] > last_seen, "seq never repeats a stored message's number"
            await a2.ws.close()
            await b2.ws.close()
        finally:
            restarted.kill()
            restarted.wait()

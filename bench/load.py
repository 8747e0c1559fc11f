"""The load generator: websocket clients in worker processes of their own.

The parent (the bench process) drives a ``LoadPool`` of worker processes over pipes; each
worker runs an asyncio loop holding its share of the sockets. Phases:

- ``connect``: open the sockets (minting a fresh project ticket for each right before it
  connects), a bounded number of handshakes at a time, and wait for each first frame.
- ``echo_closed``: every socket keeps ``window`` pings in flight; pongs/s is the maximum
  echo throughput.
- ``echo_open`` / ``chat``: open loop. Messages leave on a fixed schedule whatever the
  replies do; latency is measured from the *scheduled* send time, so a server (or a
  generator) that falls behind shows it in the latency instead of quietly offering less.

Times are ``time.perf_counter_ns()``: CLOCK_MONOTONIC on Linux, one clock for every
process, so a chat message sent by one worker can be timed where another receives it.
A chat message's ``client_id`` carries its phase tag, sender and scheduled send time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import os
import time
import traceback
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

PING = orjson.dumps({"type": "ping"}).decode()
CHAT_TEXT = "a line of chat from the bench, about this long"
# A sleep shorter than this costs more than it saves; sends due within it go out at once.
_MIN_SLEEP_NS = 500_000
# Like a real client, a socket that has sent nothing for this long sends a ping (the project
# closes a socket silent for ROOM_IDLE_SECONDS, 60 s by default). Not during echo phases.
KEEPALIVE_SECONDS = 20.0


@dataclass(frozen=True)
class SocketSpec:
    """One socket to open. ``ticket``: the project (mint a ticket, ``?ticket=``); else the
    bare baseline (``?user=<id>``)."""

    url: str
    origin: str
    room: str
    user_id: int
    ticket: bool


def default_workers() -> int:
    """Half the machine: on 2 cores, one generator process beside the server(s)."""
    return max(1, (os.cpu_count() or 2) // 2)


# --- Statistics --------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an already sorted list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


@dataclass
class Latency:
    """Latencies in microseconds, reported in milliseconds."""

    values_us: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.values_us.sort()

    def ms(self, pct: float) -> float | None:
        value = percentile(self.values_us, pct)
        return None if value is None else round(value / 1000, 3)

    @property
    def count(self) -> int:
        return len(self.values_us)


# --- Results -----------------------------------------------------------------------------


@dataclass
class ConnectResult:
    requested: int
    connected: int
    seconds: float
    failures: dict[str, int]

    @property
    def ok(self) -> bool:
        return self.connected == self.requested


@dataclass
class EchoResult:
    sent: int
    pongs: int  # in the measured window
    pongs_total: int  # warm-up and drain included
    seconds: float
    latency: Latency
    lost: int
    errors: dict[str, int]
    send_lag: Latency
    closed: int
    generator_cpu_s: float

    @property
    def pongs_per_s(self) -> float:
        return self.pongs / self.seconds if self.seconds else 0.0


@dataclass
class ChatResult:
    rate: float
    seconds: float
    sent: int
    expected: int
    delivered: int
    duplicates: int
    seq_duplicates: int
    out_of_order: int
    stale: int
    latency: Latency
    send_lag: Latency
    errors: dict[str, int]
    closed: int
    sockets_open: int  # when the phase began
    generator_cpu_s: float

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.delivered)

    @property
    def deliveries_per_s(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    def sustained(self, p99_limit_ms: float) -> bool:
        p99 = self.latency.ms(99)
        return (
            self.lost == 0
            and self.duplicates == 0
            and self.sent > 0
            and p99 is not None
            and p99 <= p99_limit_ms
            and self.closed == 0
        )


# --- The parent side ---------------------------------------------------------------------


class LoadError(RuntimeError):
    pass


class LoadPool:
    """Worker processes holding the client sockets. Use as a context manager."""

    def __init__(self, workers: int | None = None) -> None:
        self.size = workers or default_workers()
        ctx = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        for worker_id in range(self.size):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(child_end, worker_id), daemon=True)
            proc.start()
            child_end.close()
            self._pipes.append(parent_end)
            self._procs.append(proc)
        # Per worker: room -> number of its sockets connected in that room.
        self._members: list[Counter[str]] = [Counter() for _ in range(self.size)]
        self._phase = 0

    def __enter__(self) -> LoadPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, command: str, per_worker: Sequence[dict[str, Any]]) -> list[Any]:
        for pipe, kwargs in zip(self._pipes, per_worker, strict=True):
            pipe.send((command, kwargs))
        results = []
        for pipe in self._pipes:
            status, payload = pipe.recv()
            if status != "ok":
                raise LoadError(f"load worker failed in {command}:\n{payload}")
            results.append(payload)
        return results

    def _shares(self, total: float) -> list[float]:
        counts = [sum(members.values()) for members in self._members]
        everyone = sum(counts) or 1
        return [total * count / everyone for count in counts]

    def connect(self, specs: Sequence[SocketSpec], concurrency: int = 32) -> ConnectResult:
        """Open the sockets, spread round-robin over the workers, and wait for each first frame."""
        shares: list[list[SocketSpec]] = [list(specs[index :: self.size]) for index in range(self.size)]
        per_worker_concurrency = max(1, concurrency // self.size)
        started = time.perf_counter()
        results = self._call("connect", [{"specs": share, "concurrency": per_worker_concurrency} for share in shares])
        seconds = time.perf_counter() - started
        failures: Counter[str] = Counter()
        connected = 0
        for worker, result in enumerate(results):
            self._members[worker].update(result["rooms"])
            connected += sum(result["rooms"].values())
            failures.update(result["failures"])
        return ConnectResult(len(specs), connected, round(seconds, 2), dict(failures))

    def echo_closed(self, seconds: float, window: int, warmup: float = 1.0) -> EchoResult:
        """Closed loop: each socket keeps ``window`` pings in flight for warmup + seconds;
        pongs received in the last ``seconds`` count."""
        results = self._call("echo_closed", [{"seconds": seconds, "window": window, "warmup": warmup}] * self.size)
        return _merge_echo(results, seconds)

    def echo_open(self, rate: float, seconds: float) -> EchoResult:
        """Open loop: ``rate`` pings a second in total, round-robin over the sockets."""
        results = self._call("echo_open", [{"rate": share, "seconds": seconds} for share in self._shares(rate)])
        return _merge_echo(results, seconds)

    def chat(self, rate: float, seconds: float, max_drain: float = 10.0) -> ChatResult:
        """Open loop: ``rate`` chat.send a second in total, round-robin over all sockets;
        then wait (up to ``max_drain`` s) for every expected delivery."""
        self._phase += 1
        tag = f"r{self._phase}"
        sends = self._call(
            "chat_send", [{"rate": share, "seconds": seconds, "tag": tag} for share in self._shares(rate)]
        )
        sent_per_room: Counter[str] = Counter()
        for result in sends:
            sent_per_room.update(result["sent_per_room"])
        # Deliveries are expected on the sockets open when the phase began: one closed in an
        # earlier phase was counted as that phase's failure, not as every later phase's loss.
        expected = [
            sum(sent_per_room[room] * count for room, count in result["open_per_room"].items()) for result in sends
        ]
        collected = self._call("chat_collect", [{"expected": want, "max_wait": max_drain} for want in expected])
        errors: Counter[str] = Counter()
        for result in (*sends, *collected):
            errors.update(result["errors"])
        return ChatResult(
            rate=rate,
            seconds=seconds,
            sent=sum(result["sent"] for result in sends),
            expected=sum(expected),
            delivered=sum(result["delivered"] for result in collected),
            duplicates=sum(result["duplicates"] for result in collected),
            seq_duplicates=sum(result["seq_duplicates"] for result in collected),
            out_of_order=sum(result["out_of_order"] for result in collected),
            stale=sum(result["stale"] for result in collected),
            latency=Latency(_concat(result["latencies_us"] for result in collected)),
            send_lag=Latency(_concat(result["lags_us"] for result in sends)),
            errors=dict(errors),
            closed=sum(result["closed"] for result in collected),
            sockets_open=sum(sum(result["open_per_room"].values()) for result in sends),
            generator_cpu_s=round(sum(r["cpu_s"] for r in sends) + sum(r["cpu_s"] for r in collected), 3),
        )

    def disconnect(self) -> None:
        """Close every socket; the workers stay up for another ``connect``."""
        self._call("disconnect", [{}] * self.size)
        self._members = [Counter() for _ in range(self.size)]

    def settle(self, quiet: float = 1.0, max_wait: float = 15.0) -> None:
        """Wait until no frame has arrived for ``quiet`` seconds (a backlog has drained)."""
        self._call("settle", [{"quiet": quiet, "max_wait": max_wait}] * self.size)

    def close(self) -> None:
        if not self._pipes:
            return
        with contextlib.suppress(LoadError, EOFError, OSError):
            self._call("close", [{}] * self.size)
        for proc in self._procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
        for pipe in self._pipes:
            pipe.close()
        self._pipes = []
        self._procs = []


def _concat(lists: Iterable[list[int]]) -> list[int]:
    out: list[int] = []
    for values in lists:
        out.extend(values)
    return out


def _merge_echo(results: list[dict[str, Any]], seconds: float) -> EchoResult:
    errors: Counter[str] = Counter()
    for result in results:
        errors.update(result["errors"])
    return EchoResult(
        sent=sum(result["sent"] for result in results),
        pongs=sum(result["pongs"] for result in results),
        pongs_total=sum(result["pongs_total"] for result in results),
        seconds=seconds,
        latency=Latency(_concat(result["latencies_us"] for result in results)),
        lost=sum(result["lost"] for result in results),
        errors=dict(errors),
        send_lag=Latency(_concat(result["lags_us"] for result in results)),
        closed=sum(result["closed"] for result in results),
        generator_cpu_s=round(sum(result["cpu_s"] for result in results), 3),
    )


# --- The worker side ---------------------------------------------------------------------


class _Client:
    __slots__ = (
        "index",
        "keepalives",
        "last_sent",
        "last_seq",
        "pending",
        "reader",
        "ready",
        "seen_ids",
        "seen_seqs",
        "spec",
        "ws",
    )

    def __init__(self, index: int, spec: SocketSpec, ws: ClientConnection) -> None:
        self.index = index
        self.spec = spec
        self.ws = ws
        self.ready = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None
        self.pending: deque[int] = deque()  # scheduled send times of pings awaiting a pong
        self.seen_ids: set[str] = set()
        self.seen_seqs: set[int] = set()
        self.last_seq = -1
        self.last_sent = time.monotonic()
        self.keepalives = 0  # keepalive pings awaiting their pong


class _Worker:
    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id
        self.clients: list[_Client] = []
        self.closing = False
        self.keepalive: asyncio.Task[None] | None = None
        self.last_frame_ns = time.perf_counter_ns()
        self.errors: Counter[str] = Counter()
        self.closed = 0
        self.mode = "idle"
        # echo
        self.echo_stop = False
        self.measure_from = 0
        self.measure_to = 0
        self.pongs = 0
        self.pongs_total = 0
        self.latencies: list[int] = []
        # chat
        self.tag = ""
        self.delivered = 0
        self.duplicates = 0
        self.seq_duplicates = 0
        self.out_of_order = 0
        self.stale = 0

    # -- frames -------------------------------------------------------------------------

    async def _read(self, client: _Client) -> None:
        ws = client.ws
        try:
            async for raw in ws:
                now = time.perf_counter_ns()
                self.last_frame_ns = now
                frame = orjson.loads(raw)
                kind = frame.get("type")
                if kind == "chat.message":
                    self._on_chat(client, frame, now)
                elif kind == "pong":
                    if self._on_pong(client, now):
                        await self._ping(client, time.perf_counter_ns())
                elif kind == "room.state":
                    client.ready.set()
                elif kind == "error":
                    self.errors[f"error:{frame.get('code')}"] += 1
                    if self.mode.startswith("echo") and client.pending:
                        client.pending.popleft()
        except ConnectionClosed:
            pass
        finally:
            if not self.closing:
                self.closed += 1
                self.errors[f"closed:{ws.close_code}"] += 1

    async def _ping(self, client: _Client, due: int) -> bool:
        try:
            await client.ws.send(PING)
        except ConnectionClosed:
            self.errors["send_on_closed"] += 1
            return False
        client.pending.append(due)
        client.last_sent = time.monotonic()
        return True

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS / 4)
            if self.mode.startswith("echo"):
                continue
            quiet_since = time.monotonic() - KEEPALIVE_SECONDS
            for client in list(self.clients):
                if client.last_sent < quiet_since and client.ws.close_code is None:
                    client.last_sent = time.monotonic()
                    client.keepalives += 1
                    with contextlib.suppress(ConnectionClosed):
                        await client.ws.send(PING)

    def _on_pong(self, client: _Client, now: int) -> bool:
        """Record a pong; True when closed-loop echo wants the next ping sent."""
        if client.keepalives:  # pongs come back in order: this one answers a keepalive
            client.keepalives -= 1
            return False
        if not client.pending:
            self.errors["unexpected_pong"] += 1
            return False
        sent = client.pending.popleft()
        self.pongs_total += 1
        if self.mode == "echo_closed":
            if self.measure_from <= now < self.measure_to:
                self.pongs += 1
                self.latencies.append((now - sent) // 1000)
            return not self.echo_stop
        if self.mode == "echo_open":
            self.pongs += 1
            self.latencies.append((now - sent) // 1000)
        return False

    def _on_chat(self, client: _Client, frame: dict[str, Any], now: int) -> None:
        client_id = str(frame.get("client_id", ""))
        tag, _, rest = client_id.partition(":")
        if tag != self.tag or not rest:
            self.stale += 1
            return
        if client_id in client.seen_ids:
            self.duplicates += 1
            return
        client.seen_ids.add(client_id)
        seq = frame.get("seq")
        if isinstance(seq, int):
            if seq in client.seen_seqs:
                self.seq_duplicates += 1
            client.seen_seqs.add(seq)
            if seq < client.last_seq:
                self.out_of_order += 1
            else:
                client.last_seq = seq
        self.delivered += 1
        self.latencies.append((now - int(rest.rpartition(":")[2])) // 1000)

    # -- commands -----------------------------------------------------------------------

    async def cmd_connect(self, specs: list[SocketSpec], concurrency: int) -> dict[str, Any]:
        if any(spec.ticket for spec in specs):
            from bench.fixtures import setup_django

            setup_django()
        gate = asyncio.Semaphore(concurrency)
        failures: Counter[str] = Counter()
        # Keepalives from the start: a slow server can take longer than its idle limit to
        # accept every socket, and the first ones must not be closed as silent meanwhile.
        if self.keepalive is None:
            self.keepalive = asyncio.create_task(self._keepalive())

        async def one(index: int, spec: SocketSpec) -> _Client | None:
            async with gate:
                try:
                    if spec.ticket:
                        from bench.fixtures import mint_ticket

                        query = f"ticket={mint_ticket(spec.user_id)}"
                    else:
                        query = f"user={spec.user_id}"
                    ws = await connect(
                        f"{spec.url}?{query}",
                        origin=Origin(spec.origin),
                        compression=None,
                        ping_interval=None,
                        open_timeout=60,
                        close_timeout=2,
                        max_size=1 << 20,
                    )
                except Exception as exc:
                    failures[f"connect:{type(exc).__name__}"] += 1
                    return None
                client = _Client(index, spec, ws)
                client.reader = asyncio.create_task(self._read(client))
                self.clients.append(client)  # in the keepalive's list while the others connect
                ready = asyncio.create_task(client.ready.wait())
                await asyncio.wait({ready, client.reader}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
                if not client.ready.is_set():
                    ready.cancel()
                    failures[f"first_frame:{ws.close_code}"] += 1
                    self.clients.remove(client)
                    await ws.close()
                    return None
                ready.cancel()
                return client

        opened = await asyncio.gather(*(one(len(self.clients) + i, spec) for i, spec in enumerate(specs)))
        fresh = [client for client in opened if client is not None]
        self.clients.sort(key=lambda client: client.index)  # spec order, as round-robin expects
        # Sockets that opened and were closed before this phase ended count as failures.
        for client in fresh:
            if client.ws.close_code is not None:
                failures[f"closed_while_connecting:{client.ws.close_code}"] += 1
        self.closed = 0
        self.errors.clear()
        rooms = Counter(client.spec.room for client in fresh if client.ws.close_code is None)
        return {"rooms": dict(rooms), "failures": dict(failures)}

    def _reset(self, mode: str) -> float:
        self.mode = mode
        self.errors.clear()
        self.closed = 0
        self.latencies = []
        self.pongs = 0
        self.pongs_total = 0
        self.echo_stop = False
        for client in self.clients:
            client.pending.clear()
        return time.process_time()

    async def _drain_pings(self, max_wait: float) -> int:
        deadline = time.monotonic() + max_wait
        while time.monotonic() < deadline and any(
            client.pending and client.ws.close_code is None for client in self.clients
        ):
            await asyncio.sleep(0.02)
        return sum(len(client.pending) for client in self.clients)

    async def cmd_echo_closed(self, seconds: float, window: int, warmup: float) -> dict[str, Any]:
        cpu0 = self._reset("echo_closed")
        start = time.perf_counter_ns()
        self.measure_from = start + int(warmup * 1e9)
        self.measure_to = self.measure_from + int(seconds * 1e9)
        sent = 0
        for client in self.clients:
            for _ in range(window):
                sent += await self._ping(client, time.perf_counter_ns())
        await asyncio.sleep(max(0.0, (self.measure_to - time.perf_counter_ns()) / 1e9))
        self.echo_stop = True
        lost = await self._drain_pings(10)
        self.mode = "idle"
        return {
            "sent": sent,
            "pongs": self.pongs,
            "pongs_total": self.pongs_total,
            "latencies_us": self.latencies,
            "lost": lost,
            "errors": dict(self.errors),
            "lags_us": [],
            "closed": self.closed,
            "cpu_s": time.process_time() - cpu0,
        }

    async def _schedule(self, rate: float, seconds: float, send_one: Any) -> list[int]:
        """Call ``send_one(i, due_ns)`` for message i at start + i/rate; returns send lags (µs)."""
        total = int(rate * seconds)
        lags: list[int] = []
        if total <= 0 or not self.clients:
            return lags
        step = 1e9 / rate
        start = time.perf_counter_ns() + 20_000_000
        i = 0
        while i < total:
            now = time.perf_counter_ns()
            due = start + int(i * step)
            if due - now > _MIN_SLEEP_NS:
                await asyncio.sleep((due - now) / 1e9)
                continue
            while i < total:
                due = start + int(i * step)
                if due > now + _MIN_SLEEP_NS:
                    break
                await send_one(i, due)
                lags.append(max(0, time.perf_counter_ns() - due) // 1000)
                i += 1
        return lags

    async def cmd_echo_open(self, rate: float, seconds: float) -> dict[str, Any]:
        cpu0 = self._reset("echo_open")
        clients = self.clients

        async def send_one(i: int, due: int) -> None:
            await self._ping(clients[i % len(clients)], due)

        lags = await self._schedule(rate, seconds, send_one)
        lost = await self._drain_pings(10)
        self.mode = "idle"
        return {
            "sent": len(lags),
            "pongs": self.pongs,
            "pongs_total": self.pongs_total,
            "latencies_us": self.latencies,
            "lost": lost,
            "errors": dict(self.errors),
            "lags_us": lags,
            "closed": self.closed,
            "cpu_s": time.process_time() - cpu0,
        }

    async def cmd_chat_send(self, rate: float, seconds: float, tag: str) -> dict[str, Any]:
        cpu0 = self._reset("chat")
        self.tag = tag
        self.delivered = self.duplicates = self.seq_duplicates = self.out_of_order = self.stale = 0
        for client in self.clients:
            client.seen_ids = set()
            client.seen_seqs = set()
            client.last_seq = -1
        clients = self.clients
        open_per_room = Counter(client.spec.room for client in clients if client.ws.close_code is None)
        sent_per_room: Counter[str] = Counter()
        prefix = f"{tag}:{self.worker_id}"

        async def send_one(i: int, due: int) -> None:
            client = clients[i % len(clients)]
            frame = {"type": "chat.send", "text": CHAT_TEXT, "client_id": f"{prefix}:{i}:{due}"}
            try:
                await client.ws.send(orjson.dumps(frame).decode())
            except ConnectionClosed:
                self.errors["send_on_closed"] += 1
                return
            client.last_sent = time.monotonic()
            sent_per_room[client.spec.room] += 1

        lags = await self._schedule(rate, seconds, send_one)
        return {
            "sent": sum(sent_per_room.values()),
            "sent_per_room": dict(sent_per_room),
            "open_per_room": dict(open_per_room),
            "lags_us": lags,
            "errors": dict(self.errors),
            "cpu_s": time.process_time() - cpu0,
        }

    async def cmd_chat_collect(self, expected: int, max_wait: float) -> dict[str, Any]:
        cpu0 = time.process_time()
        deadline = time.monotonic() + max_wait
        while self.delivered < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        result = {
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "seq_duplicates": self.seq_duplicates,
            "out_of_order": self.out_of_order,
            "stale": self.stale,
            "latencies_us": self.latencies,
            "errors": dict(self.errors),
            "closed": self.closed,
            "cpu_s": time.process_time() - cpu0,
        }
        self.latencies = []
        self.mode = "idle"
        return result

    async def cmd_settle(self, quiet: float, max_wait: float) -> dict[str, Any]:
        deadline = time.monotonic() + max_wait
        while time.monotonic() < deadline:
            if time.perf_counter_ns() - self.last_frame_ns >= quiet * 1e9:
                break
            await asyncio.sleep(0.05)
        return {}

    async def cmd_disconnect(self) -> dict[str, Any]:
        if self.keepalive is not None:
            self.keepalive.cancel()
            self.keepalive = None
        self.closing = True
        await asyncio.gather(*(client.ws.close() for client in self.clients), return_exceptions=True)
        readers = [client.reader for client in self.clients if client.reader is not None]
        if readers:
            await asyncio.wait(readers, timeout=5)
        self.clients = []
        self.closing = False
        return {}

    async def cmd_close(self) -> dict[str, Any]:
        return await self.cmd_disconnect()


def _worker_main(pipe: Connection, worker_id: int) -> None:
    asyncio.run(_serve(pipe, worker_id))


async def _serve(pipe: Connection, worker_id: int) -> None:
    worker = _Worker(worker_id)
    loop = asyncio.get_running_loop()
    while True:
        try:
            command, kwargs = await loop.run_in_executor(None, pipe.recv)
        except (EOFError, OSError):  # the parent is gone
            await worker.cmd_close()
            return
        try:
            reply: tuple[str, Any] = ("ok", await getattr(worker, f"cmd_{command}")(**kwargs))
        except Exception:
            reply = ("error", traceback.format_exc())
        try:
            pipe.send(reply)
        except (EOFError, OSError):
            await worker.cmd_close()
            return
        if command == "close":
            return

"""S3: what one chat broadcast costs as the room grows (2, 5, 10, 20, 50 members).

(a) Project: one Daphne, one room of N sockets; K chat messages at a rate well below
    saturation. Per broadcast: Redis commands (``INFO commandstats`` delta, every command
    but INFO, including those run inside Lua scripts), PUBLISH and EVAL/EVALSHA calls,
    Daphne CPU and Redis CPU. An idle stretch of the same length is measured first and
    subtracted.
(b) Baseline: stock ``channels_redis`` ``RedisChannelLayer.group_send`` in the bench process
    to a group of N channels made with ``new_channel()``, each message received so the
    queue does not fill; Redis commands and bench-process CPU per broadcast.
Targets: the project publishes once per broadcast (one process here) and its commands per
broadcast do not grow with N.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import redis

from bench import fixtures, servers
from bench.load import LoadPool
from bench.report import Figures, compare, failed, rounded, target
from bench.scenarios.base import Scenario, register
from bench.scenarios.common import room_specs

SIZES = (2, 5, 10, 20, 50)
QUICK_SIZES = (2, 50)
EVAL_COMMANDS = ("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro")
# "Constant in N": the spread of commands per broadcast over all N stays within this.
CONSTANT_TOLERANCE = 0.5
BASELINE_PREFIX = "bench-asgi"


@dataclass
class RedisSnapshot:
    calls: dict[str, int]
    cpu_s: float
    at: float

    @classmethod
    def take(cls, client: redis.Redis) -> RedisSnapshot:
        stats: dict[str, Any] = client.info("commandstats")
        cpu: dict[str, Any] = client.info("cpu")
        calls = {
            name.removeprefix("cmdstat_").lower(): int(value["calls"])
            for name, value in stats.items()
            if isinstance(value, dict) and "calls" in value
        }
        return cls(calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), time.perf_counter())


@dataclass
class Cost:
    """Totals over a stretch: Redis calls by command, Redis CPU, server CPU, wall time."""

    calls: dict[str, float]
    redis_cpu_s: float
    server_cpu_s: float
    wall_s: float

    @classmethod
    def between(cls, before: RedisSnapshot, after: RedisSnapshot, server_cpu_s: float = 0.0) -> Cost:
        calls = {
            name: float(after.calls.get(name, 0) - before.calls.get(name, 0))
            for name in set(before.calls) | set(after.calls)
            if name != "info"  # our own measuring
        }
        return cls(calls, after.cpu_s - before.cpu_s, server_cpu_s, after.at - before.at)

    def minus_idle(self, idle: Cost) -> Cost:
        scale = self.wall_s / idle.wall_s if idle.wall_s else 0.0
        names = set(self.calls) | set(idle.calls)
        return Cost(
            {name: self.calls.get(name, 0.0) - scale * idle.calls.get(name, 0.0) for name in names},
            self.redis_cpu_s - scale * idle.redis_cpu_s,
            self.server_cpu_s - scale * idle.server_cpu_s,
            self.wall_s,
        )

    def per(self, count: int) -> PerBroadcast:
        return PerBroadcast(
            commands=sum(self.calls.values()) / count,
            publishes=self.calls.get("publish", 0.0) / count,
            evals=sum(self.calls.get(name, 0.0) for name in EVAL_COMMANDS) / count,
            redis_cpu_us=1e6 * self.redis_cpu_s / count,
            cpu_us=1e6 * self.server_cpu_s / count,
            top=", ".join(
                f"{name}={value / count:.2f}"
                for name, value in sorted(self.calls.items(), key=lambda item: -item[1])
                if value / count >= 0.05
            ),
        )


@dataclass
class PerBroadcast:
    commands: float
    publishes: float
    evals: float
    redis_cpu_us: float
    cpu_us: float
    top: str
    delivered_ok: bool = True


def wait_quiet(client: redis.Redis, quiet: float = 0.6, max_wait: float = 15.0) -> None:
    """Until Redis has served (almost) no command for ``quiet`` seconds: the work of the
    previous step (joins, departures, their broadcasts) is over."""
    deadline = time.monotonic() + max_wait
    before = RedisSnapshot.take(client)
    while time.monotonic() < deadline:
        time.sleep(quiet)
        after = RedisSnapshot.take(client)
        if sum(Cost.between(before, after).calls.values()) <= 2:
            return
        before = after


# --- (a) the project ---------------------------------------------------------------------


def _project(
    env: fixtures.BenchEnv, client: redis.Redis, rooms: dict[int, fixtures.Room], broadcasts: int, rate: float
) -> dict[int, PerBroadcast]:
    seconds = broadcasts / rate
    out: dict[int, PerBroadcast] = {}
    with (
        servers.running(servers.start_daphne(env), http_path=servers.HEALTH_PATH) as [daphne],
        LoadPool(1) as pool,
    ):
        for size, room in rooms.items():
            connected = pool.connect(room_specs([room], [daphne], project=True), concurrency=8)
            if not connected.ok:
                raise RuntimeError(
                    f"N={size}: {connected.connected}/{connected.requested} connected, {connected.failures}"
                )
            pool.settle(0.5, 5)
            pool.chat(rate, min(1.0, seconds), max_drain=5)  # warm-up, not counted
            wait_quiet(client)
            # Idle stretch of the same length, for what Daphne and Redis do on their own.
            cpu0, before = daphne.cpu_seconds(), RedisSnapshot.take(client)
            time.sleep(seconds + 0.2)
            idle = Cost.between(before, RedisSnapshot.take(client), daphne.cpu_seconds() - cpu0)
            cpu0, before = daphne.cpu_seconds(), RedisSnapshot.take(client)
            result = pool.chat(rate, seconds, max_drain=5)
            busy = Cost.between(before, RedisSnapshot.take(client), daphne.cpu_seconds() - cpu0)
            per = busy.minus_idle(idle).per(max(1, result.sent))
            per.delivered_ok = result.lost == 0 and result.duplicates == 0 and result.sent == broadcasts
            out[size] = per
            pool.disconnect()
            wait_quiet(client)
    return out


# --- (b) stock channels_redis group_send -------------------------------------------------


async def _baseline_one(redis_url: str, client: redis.Redis, size: int, broadcasts: int) -> PerBroadcast:
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(hosts=[{"address": redis_url}], prefix=BASELINE_PREFIX, capacity=1000, expiry=60)
    group = f"bench.fanout.{size}"
    channels = [await layer.new_channel() for _ in range(size)]
    for channel in channels:
        await layer.group_add(group, channel)
    message = {
        "type": "chat.message",
        "frame": {
            "type": "chat.message",
            "id": 1,
            "seq": 1,
            "user": {"id": 1},
            "text": "a line of chat from the bench, about this long",
            "sent_at": "2026-01-01T00:00:00+00:00",
            "client_id": "r1:0:0:1234567890123456789",
        },
    }

    async def broadcast() -> None:
        await layer.group_send(group, message)
        for channel in channels:
            await layer.receive(channel)

    try:
        await broadcast()  # warm-up: pools, script cache
        cpu0, before = time.process_time(), RedisSnapshot.take(client)
        for _ in range(broadcasts):
            await broadcast()
        cost = Cost.between(before, RedisSnapshot.take(client), time.process_time() - cpu0)
    finally:
        for channel in channels:
            await layer.group_discard(group, channel)
        await layer.flush()
        await layer.close_pools()
    return cost.per(broadcasts)


def _baseline(
    env: fixtures.BenchEnv, client: redis.Redis, sizes: tuple[int, ...], broadcasts: int
) -> dict[int, PerBroadcast]:
    async def all_sizes() -> dict[int, PerBroadcast]:
        return {size: await _baseline_one(env.redis_url, client, size, broadcasts) for size in sizes}

    return asyncio.run(all_sizes())


# --- the scenario ------------------------------------------------------------------------


def run(quick: bool = False) -> Figures:
    env = fixtures.prepare()
    fixtures.flush_redis(env.redis_url)  # nothing left over from an earlier scenario
    sizes = QUICK_SIZES if quick else SIZES
    broadcasts = 50 if quick else 200
    rate = 50.0 if quick else 40.0
    rooms = {size: fixtures.create_rooms(f"s3n{size}", 1, size)[0] for size in sizes}
    client = redis.Redis.from_url(env.redis_url)
    figures: Figures = {
        "s3_sizes": " ".join(str(size) for size in sizes),
        "s3_broadcasts_per_size": broadcasts,
        "s3_project_rate_per_s": rate,
        "s3_project_processes": 1,
        "s3_baseline": "stock channels_redis RedisChannelLayer.group_send + receive, in the bench process",
    }
    baseline: dict[int, PerBroadcast] = {}
    project: dict[int, PerBroadcast] = {}
    try:
        baseline = _baseline(env, client, sizes, broadcasts)
    except Exception as exc:
        failed(figures, "s3_baseline_error", exc)
    try:
        project = _project(env, client, rooms, broadcasts, rate)
    except Exception as exc:
        failed(figures, "s3_project_error", exc)
    finally:
        client.close()

    for size in sizes:
        p, b = project.get(size), baseline.get(size)
        key = f"s3_n{size}"
        compare(
            figures, f"{key}_commands_per_broadcast", p.commands if p else None, b.commands if b else None, digits=2
        )
        compare(
            figures, f"{key}_publishes_per_broadcast", p.publishes if p else None, b.publishes if b else None, digits=2
        )
        compare(figures, f"{key}_evals_per_broadcast", p.evals if p else None, b.evals if b else None, digits=2)
        compare(figures, f"{key}_cpu_us_per_broadcast", p.cpu_us if p else None, b.cpu_us if b else None, digits=1)
        compare(
            figures,
            f"{key}_redis_cpu_us_per_broadcast",
            p.redis_cpu_us if p else None,
            b.redis_cpu_us if b else None,
            digits=1,
        )
        if p is not None:
            figures[f"{key}_project_commands"] = p.top
            if not p.delivered_ok:
                figures[f"{key}_project_delivery"] = "loss, duplicates or unsent messages: see s2"
        if b is not None:
            figures[f"{key}_baseline_commands"] = b.top

    if project:
        publishes = [per.publishes for per in project.values()]
        commands = [per.commands for per in project.values()]
        spread = max(commands) - min(commands)
        figures["s3_project_commands_spread"] = rounded(spread, 2)
        target(
            figures,
            "s3_publishes_per_broadcast",
            all(abs(value - 1) < 0.05 for value in publishes),
            "project: exactly 1 PUBLISH per broadcast (1 process), for every N",
        )
        target(
            figures,
            "s3_commands_constant",
            spread <= CONSTANT_TOLERANCE,
            f"project: commands per broadcast vary by <= {CONSTANT_TOLERANCE} over N",
        )
    if baseline:
        commands = [per.commands for per in baseline.values()]
        figures["s3_baseline_commands_spread"] = rounded(max(commands) - min(commands), 2)
    return figures


SCENARIO = register(
    Scenario(
        name="s3",
        description="cost of one broadcast as the room grows (2..50): Redis commands, PUBLISHes, CPU",
        run=run,
    )
)

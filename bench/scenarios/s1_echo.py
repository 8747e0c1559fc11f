"""S1: ping/pong echo over 500 sockets (50 rooms x 10), one server process.

1. Closed loop: every socket keeps WINDOW pings in flight; pongs/s is the maximum echo
   throughput, for the project (one Daphne) and for the bare websockets server.
2. Open loop at 50 % of the project's maximum: p99 latency of both at that same rate, in
   OPEN_WINDOWS windows, compared on the window with the median p99 (as S2 does: on a
   shared 2-core machine one window is often set by a burst of outside noise).
Targets: throughput ratio >= 0.30, p99 ratio <= 2.0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import fixtures, servers
from bench.load import ConnectResult, EchoResult, LoadPool, default_workers
from bench.report import Figures, compare, compare_latency, failed
from bench.scenarios.base import Scenario, register
from bench.scenarios.common import CpuMeter, error_counts, median_p99_window, room_specs

WINDOW = 2
OPEN_LOAD_SHARE = 0.5
THROUGHPUT_AT_LEAST = 0.30
P99_AT_MOST = 2.0
OPEN_WINDOWS = 3


@dataclass
class EchoRun:
    connect: ConnectResult
    closed: EchoResult
    closed_cpu_pct: float
    closed_cpu_s: float
    windows: list[EchoResult] = field(default_factory=list)  # open loop
    open_cpu_pct: float = 0.0

    @property
    def open(self) -> EchoResult | None:
        """The open-loop window with the median p99."""
        return median_p99_window(self.windows)

    @property
    def pongs_per_cpu_s(self) -> float | None:
        return self.closed.pongs_total / self.closed_cpu_s if self.closed_cpu_s > 0 else None


def _measure(
    server: servers.ServerProcess, rooms: list[fixtures.Room], project: bool, seconds: float, rate: float | None
) -> EchoRun:
    with LoadPool() as pool:
        connected = pool.connect(room_specs(rooms, [server], project=project))
        if connected.connected == 0:
            raise RuntimeError(f"no socket connected: {connected.failures}")
        with CpuMeter([server]) as closed_cpu:
            closed = pool.echo_closed(seconds, WINDOW, warmup=min(1.0, seconds / 4))
        run = EchoRun(connected, closed, closed_cpu.percent, closed_cpu.cpu_s)
        open_rate = rate if rate is not None else OPEN_LOAD_SHARE * closed.pongs_per_s
        with CpuMeter([server]) as open_cpu:
            for _ in range(OPEN_WINDOWS):
                pool.settle(0.5, 5)
                run.windows.append(pool.echo_open(open_rate, seconds))
        run.open_cpu_pct = open_cpu.percent
        return run


def _describe(figures: Figures, side: str, run: EchoRun | None) -> None:
    if run is None:
        return
    figures[f"s1_{side}_connected"] = f"{run.connect.connected}/{run.connect.requested} in {run.connect.seconds} s"
    if run.connect.failures:
        figures[f"s1_{side}_connect_failures"] = str(run.connect.failures)
    figures[f"s1_{side}_closed_loop_server_cpu_pct"] = run.closed_cpu_pct
    figures[f"s1_{side}_open_loop_server_cpu_pct"] = run.open_cpu_pct
    closed = run.closed.closed + sum(window.closed for window in run.windows)
    if closed:
        figures[f"s1_{side}_sockets_closed_under_load"] = closed
    errors = error_counts([run.closed, *run.windows])
    if errors:
        figures[f"s1_{side}_errors"] = str(errors)
    if run.open is not None:
        figures[f"s1_{side}_open_loop_windows_p99_ms"] = " ".join(str(w.latency.ms(99)) for w in run.windows)
        figures[f"s1_{side}_open_loop_lost"] = sum(window.lost for window in run.windows)
        figures[f"s1_{side}_open_loop_send_lag_p99_ms"] = run.open.send_lag.ms(99)
        generator_cpu_s = run.closed.generator_cpu_s + sum(window.generator_cpu_s for window in run.windows)
        figures[f"s1_{side}_generator_cpu_s"] = round(generator_cpu_s, 2)


def run(quick: bool = False) -> Figures:
    env = fixtures.prepare()
    fixtures.flush_redis(env.redis_url)  # nothing left over from an earlier scenario
    room_count = 10 if quick else 50
    seconds = 2.0 if quick else 8.0
    rooms = fixtures.create_rooms("s1", room_count, 10)
    figures: Figures = {
        "s1_sockets": room_count * 10,
        "s1_window_per_socket": WINDOW,
        "s1_phase_seconds": seconds,
        "s1_load_workers": default_workers(),
        "s1_baseline": "bare websockets server (bench/bare.py), 1 process",
    }
    project: EchoRun | None = None
    try:
        with servers.running(servers.start_daphne(env), http_path=servers.HEALTH_PATH) as [daphne]:
            project = _measure(daphne, rooms, True, seconds, None)
    except Exception as exc:
        failed(figures, "s1_project_error", exc)
    open_rate = OPEN_LOAD_SHARE * project.closed.pongs_per_s if project else None
    bare: EchoRun | None = None
    try:
        with servers.running(servers.start_bare()) as [server]:
            bare = _measure(server, rooms, False, seconds, open_rate)
    except Exception as exc:
        failed(figures, "s1_baseline_error", exc)
    if open_rate is None and bare is not None:
        open_rate = OPEN_LOAD_SHARE * bare.closed.pongs_per_s
        figures["s1_open_loop_rate_basis"] = "50% of the bare maximum (the project was not measured)"
    else:
        figures["s1_open_loop_rate_basis"] = "50% of the project maximum"
    figures["s1_open_loop_rate_per_s"] = round(open_rate or 0.0, 1)

    compare(
        figures,
        "s1_throughput",
        project.closed.pongs_per_s if project else None,
        bare.closed.pongs_per_s if bare else None,
        at_least=THROUGHPUT_AT_LEAST,
        digits=1,
    )
    # Server efficiency: on 2 cores the generator may saturate before the bare server does
    # (see *_closed_loop_server_cpu_pct); pongs per server CPU-second does not depend on that.
    compare(
        figures,
        "s1_pongs_per_server_cpu_s",
        project.pongs_per_cpu_s if project else None,
        bare.pongs_per_cpu_s if bare else None,
        digits=0,
    )
    project_open = project.open if project else None
    bare_open = bare.open if bare else None
    compare_latency(
        figures,
        "s1",
        project_open.latency if project_open else None,
        bare_open.latency if bare_open else None,
        p99_at_most=P99_AT_MOST,
    )
    _describe(figures, "project", project)
    _describe(figures, "baseline", bare)
    return figures


SCENARIO = register(
    Scenario(
        name="s1",
        description="echo (ping/pong) over 500 sockets: max throughput and p99 at 50% of the project's max",
        run=run,
    )
)

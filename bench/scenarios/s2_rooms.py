"""S2: chat in 200 rooms x 10 participants, open loop.

Project: two Daphne processes sharing Redis; each room's members alternate between them,
so every broadcast crosses processes. Baseline, doing the same work: two bare websockets
processes (bench/bare.py --redis --database) sharing rooms through Redis the same way, each
chat line committed to PostgreSQL before it is published (as the project stores every
line before its broadcast), then its seq and PUBLISH in one Lua call, one subscription per
room per process. Also measured for reference, without targets: the same two bare
processes without the database (``s2_nodb_*``: fan-out only, the baseline before the
commit was added) and the floor, one bare process with in-memory rooms (``s2_floor_*``).

1. Peak: a short step search (doubling, then bisecting) for the highest total chat.send
   rate a server sustains: zero loss, zero duplicates, no socket closed, p99 <= 1 s.
   A short step can pass while the server falls behind (a backlog that grows by less
   than a second in 4 s), so the candidate is then held CONFIRM_FACTOR times as long, and
   stepped down until a rate holds. Done for the project and, the same way, for the
   references.
2. Alone at half the project's peak (reference): each side's HALF_WINDOWS windows on its
   own, the references before their search (every socket still open), the project after
   it (``s2_alone_half_*``, ``s2_<side>_alone_*``). Minutes apart, so the machine's speed
   differs between the sides: on this shared 2-core machine the same two Daphnes, code and
   load gave windows of p50 9-23 ms in one run and 4-7 ms in the next, ten minutes later.
3. Paired, the target: fresh project servers and fresh baseline servers, both connected at
   once, each driven by its own load generator; at half the project's peak, PAIRED_WINDOWS
   windows per side in alternation (project then baseline, baseline then project, ...),
   the database settled before each window, so both sides meet the machine's noise alike
   (``s2_half_*``). When the baseline peaks lower, the same again at half the *lower* peak
   (``s2_low_*``, reference): half the project's peak loads such a baseline near its own
   limit, where its tail grows, and the comparison at that rate flatters the project.
   A third side takes its turns in the half-peak windows (not at the lower rate, and with
   no peak search of its own): the project with its server tuning off (two Daphnes started
   with WS_SERVER_TUNING=0, or without the patches BENCH_TUNING_OFF names), so the tuning's
   gain is read at the same load and in the same stretch of time (``s2_half_tuning_*``,
   project / untuned project, no target).
Targets: peak deliveries/s ratio >= 0.30; p99 ratio <= 2.0 at half the project's peak; zero
loss and zero duplicates for the project there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench import fixtures, servers
from bench.load import ChatResult, ConnectResult, LoadPool, default_workers
from bench.report import Figures, compare, compare_latency, failed, target
from bench.scenarios.base import Scenario, register
from bench.scenarios.common import CpuMeter, error_counts, median_p99_window, room_specs

P99_LIMIT_MS = 1000.0
DELIVERIES_AT_LEAST = 0.30
P99_AT_MOST = 2.0
MAX_RATE = 12800.0  # chat.send per second in total; past this the generator is the limit
PROJECT_PROCESSES = 2
BARE_PROCESSES = 2
# The peak found by the short steps is held this many steps long before it counts: at a
# rate the server cannot keep up with, its backlog, and so its p99, grows with the time
# held (seen here: 1200/s passed a 4 s step with p99 0.8 s and failed 16 s with p99 1.9 s).
CONFIRM_FACTOR = 4
# The half-peak load is measured in this many windows of `final_seconds`: on a shared
# 2-core machine one window's p99 is often set by a burst of outside noise (CPU steal,
# disk writeback), and the median window is the steadier figure. Every window is reported.
HALF_WINDOWS = 3
# The paired phase (the target) measures this many windows per side, alternating.
PAIRED_WINDOWS = 5


@dataclass
class Sizing:
    rooms: int
    members: int
    step_seconds: float
    final_seconds: float
    start_rate: float
    bisections: int
    growth: float  # rate factor between search steps before the first failure


FULL = Sizing(rooms=200, members=10, step_seconds=4.0, final_seconds=6.0, start_rate=25.0, bisections=1, growth=2)
QUICK = Sizing(rooms=20, members=10, step_seconds=1.5, final_seconds=2.0, start_rate=25.0, bisections=0, growth=4)


@dataclass
class Search:
    peak_rate: float | None = None
    peak: ChatResult | None = None
    steps: list[str] = field(default_factory=list)

    def step(self, pool: LoadPool, rate: float, seconds: float, label: str = "") -> ChatResult | None:
        """Offer ``rate`` for ``seconds``; the result if the server sustained it, else None."""
        result = pool.chat(rate, seconds, max_drain=P99_LIMIT_MS / 1000 + 2)
        ok = result.sustained(P99_LIMIT_MS)
        self.steps.append(
            f"{label}{rate:g}/s:{'ok' if ok else 'fail'}"
            f"(p99={result.latency.ms(99)}ms,lost={result.lost},dup={result.duplicates},closed={result.closed}"
            f",open={result.sockets_open})"
        )
        if not ok:
            pool.settle(0.5, 15)  # let a backlog drain before the next step
        return result if ok else None


def _short_steps(pool: LoadPool, start: float, sizing: Sizing, search: Search) -> list[float]:
    """Multiply by ``sizing.growth`` from ``start`` until a step fails (or MAX_RATE), then
    bisect ``sizing.bisections`` times; if ``start`` already fails, halve (at most 4 times).
    Returns the rates that passed, highest first."""
    passed: list[float] = []

    def ok(rate: float) -> bool:
        if search.step(pool, rate, sizing.step_seconds) is None:
            return False
        passed.append(rate)
        return True

    rate = start
    failing: float | None = None
    if ok(rate):
        while rate < MAX_RATE:
            rate = min(rate * sizing.growth, MAX_RATE)
            if not ok(rate):
                failing = rate
                break
    else:
        failing = rate
        for _ in range(4):
            rate /= 2
            if ok(rate):
                break
            failing = rate
    if passed and failing is not None:
        low, high = max(passed), failing
        for _ in range(sizing.bisections):
            mid = round((low + high) / 2, 1)
            if ok(mid):
                low = mid
            else:
                high = mid
    return sorted(passed, reverse=True)


def find_peak(pool: LoadPool, start: float, sizing: Sizing) -> Search:
    """Short steps find a candidate; the peak is the highest rate that passed them and then
    holds CONFIRM_FACTOR steps long (tried from the highest down; if none holds, halving
    below them). When a held rate above it failed, one more held step between the two
    (``sizing.bisections`` > 0)."""
    search = Search()

    def holds(rate: float) -> bool:
        held = search.step(pool, rate, sizing.step_seconds * CONFIRM_FACTOR, label="held ")
        if held is not None:
            search.peak_rate, search.peak = rate, held
        return held is not None

    failing: float | None = None
    candidates = _short_steps(pool, start, sizing, search)
    for rate in candidates:
        if holds(rate):
            break
        failing = rate
    if search.peak_rate is None:
        # Nothing held (a baseline's search starts at the project's peak, which it may
        # pass for 4 s and not for 16): halve below the lowest rate tried until one holds.
        rate = failing = min(candidates, default=start)
        for _ in range(4):
            rate /= 2
            if holds(rate):
                break
            failing = rate
    if search.peak_rate is not None and failing is not None and sizing.bisections:
        holds(round((search.peak_rate + failing) / 2, 1))
    return search


@dataclass
class RoomsRun:
    connect: ConnectResult
    search: Search
    windows: list[ChatResult] = field(default_factory=list)
    half_cpu_pct: float = 0.0
    idle_cpu_pct: float = 0.0  # paired phase: over the other side's windows

    @property
    def half(self) -> ChatResult | None:
        """The half-peak window with the median p99."""
        return median_p99_window(self.windows)

    def total(self, count: Callable[[ChatResult], int]) -> int:
        return sum(count(window) for window in self.windows)


def _measure_half(
    pool: LoadPool, group: Sequence[servers.ServerProcess], rate: float, sizing: Sizing
) -> tuple[list[ChatResult], float]:
    """HALF_WINDOWS windows at ``rate``, and the servers' CPU % over them."""
    windows = []
    with CpuMeter(group) as cpu:
        for _ in range(HALF_WINDOWS):
            pool.settle(0.5, 10)
            windows.append(pool.chat(rate, sizing.final_seconds, max_drain=10))
    return windows, cpu.percent


def _connect(
    pool: LoadPool, group: Sequence[servers.ServerProcess], rooms: list[fixtures.Room], project: bool
) -> ConnectResult:
    """One socket per roster member; returns once the joins' presence frames are read."""
    connected = pool.connect(room_specs(rooms, group, project=project), concurrency=16 if project else 64)
    if connected.connected == 0:
        raise RuntimeError(f"no socket connected: {connected.failures}")
    pool.settle(0.5, 10)  # presence frames of the joins
    return connected


def _measure(
    group: Sequence[servers.ServerProcess],
    rooms: list[fixtures.Room],
    project: bool,
    sizing: Sizing,
    start_rate: float,
    half_rate: float | None,
    settle_database: Callable[[], None],
) -> RoomsRun:
    with LoadPool() as pool:
        connected = _connect(pool, group, rooms, project)
        pool.chat(start_rate / 2, 1.0)  # warm-up: connections, caches, query plans
        half: tuple[list[ChatResult], float] = ([], 0.0)
        if half_rate:  # known in advance: measured while every socket is open
            half = _measure_half(pool, group, half_rate, sizing)
        search = find_peak(pool, start_rate, sizing)
        if not half_rate and search.peak_rate:
            # The search ended overloaded (its last steps failed): the references measure
            # their half-peak windows on a settled database, so the project does too.
            settle_database()
            half = _measure_half(pool, group, search.peak_rate / 2, sizing)
        return RoomsRun(connected, search, *half)


def low_rate(project_peak: float | None, baseline_peak: float | None) -> float | None:
    """The rate of the below-both-peaks reference: half the baseline's peak when it is
    lower than the project's (otherwise the half-peak rate is already below both)."""
    if project_peak is None or baseline_peak is None or baseline_peak >= project_peak:
        return None
    return baseline_peak / 2


def paired_order(pairs: int, names: Sequence[str] = ("project", "baseline")) -> list[str]:
    """The sides' windows in the order measured: in ``names``' order in even rounds, the
    reverse in odd ones (P B B P P B ...; with a third side P B O O B P ...), so a drift in
    the machine's speed over the phase, or the wake of the window before, falls on every
    side alike."""
    order: list[str] = []
    for index in range(pairs):
        order += list(names) if index % 2 == 0 else list(reversed(names))
    return order


@dataclass
class Side:
    """One side of the paired phase: its servers, its load generator and its sockets."""

    group: Sequence[servers.ServerProcess]
    pool: LoadPool
    connect: ConnectResult


def alternate(
    sides: dict[str, Side], rate: float, pairs: int, seconds: float, settle_database: Callable[[], None]
) -> dict[str, RoomsRun]:
    """``pairs`` windows per side at ``rate``, in ``paired_order`` of the sides. Before each
    window the database is settled and every side's sockets are quiet. Each side's
    ``half_cpu_pct`` is its servers' CPU over its own windows; ``idle_cpu_pct``, over the
    other sides'."""
    windows: dict[str, list[ChatResult]] = {name: [] for name in sides}
    busy: dict[str, list[CpuMeter]] = {name: [] for name in sides}
    idle: dict[str, list[CpuMeter]] = {name: [] for name in sides}
    for name in paired_order(pairs, list(sides)):
        settle_database()
        for side in sides.values():
            side.pool.settle(0.5, 10)
        with contextlib.ExitStack() as stack:
            meters = {other: stack.enter_context(CpuMeter(side.group)) for other, side in sides.items()}
            windows[name].append(sides[name].pool.chat(rate, seconds, max_drain=10))
        for other, meter in meters.items():
            (busy if other == name else idle)[other].append(meter)
    return {
        name: RoomsRun(side.connect, Search(), windows[name], _percent(busy[name]), _percent(idle[name]))
        for name, side in sides.items()
    }


def _percent(meters: list[CpuMeter]) -> float:
    """CPU % of one core over several metered stretches together."""
    wall = sum(meter.wall_s for meter in meters)
    return round(100 * sum(meter.cpu_s for meter in meters) / wall, 1) if wall else 0.0


@dataclass
class Paired:
    half: dict[str, RoomsRun] = field(default_factory=dict)
    low: dict[str, RoomsRun] = field(default_factory=dict)


def _measure_paired(
    env: fixtures.BenchEnv,
    rooms: list[fixtures.Room],
    untuned_rooms: list[fixtures.Room],
    sizing: Sizing,
    half_rate: float,
    low: float | None,
    settle_database: Callable[[], None],
) -> Paired:
    """Fresh project, baseline and untuned project servers, all connected; a warm-up of
    each, then the alternating windows at ``half_rate`` and, if given, at ``low`` (each
    window after a settled database; the untuned project only at ``half_rate``).

    The untuned project has rooms of its own: in the same rooms its Daphnes would hear the
    tuned project's broadcasts (and it theirs) and fan every one out to their own 2,000
    sockets, so each side's windows would carry the other's delivery work too."""
    with (
        servers.running(*_start_project(env), http_path=servers.HEALTH_PATH) as project_group,
        servers.running(*BASELINE.start(env)) as baseline_group,
        servers.running(*_start_project(env, servers.TUNING_OFF), http_path=servers.HEALTH_PATH) as untuned_group,
        LoadPool() as project_pool,
        LoadPool() as baseline_pool,
        LoadPool() as untuned_pool,
    ):
        sides = {
            "project": Side(project_group, project_pool, _connect(project_pool, project_group, rooms, True)),
            "baseline": Side(baseline_group, baseline_pool, _connect(baseline_pool, baseline_group, rooms, False)),
            UNTUNED: Side(untuned_group, untuned_pool, _connect(untuned_pool, untuned_group, untuned_rooms, True)),
        }
        for side in sides.values():
            side.pool.chat(half_rate / 2, 1.0)  # warm-up, as before the other phases
        paired = Paired(half=alternate(sides, half_rate, PAIRED_WINDOWS, sizing.final_seconds, settle_database))
        if low is not None:
            compared = {name: side for name, side in sides.items() if name != UNTUNED}
            paired.low = alternate(compared, low, PAIRED_WINDOWS, sizing.final_seconds, settle_database)
        return paired


# The third side of the paired phase: the project with its server tuning off.
UNTUNED = "project_off"


def _start_project(env: fixtures.BenchEnv, tuning_off: str | None = None) -> list[servers.ServerProcess]:
    """The project's Daphnes: with every server/daphne_tuning.py patch, or without those
    ``tuning_off`` names ("all": none)."""
    prefix = "daphne-off" if tuning_off else "daphne"
    return [
        servers.start_daphne(env, name=f"{prefix}{index}", tuning_off=tuning_off) for index in range(PROJECT_PROCESSES)
    ]


def _window_figures(figures: Figures, prefix: str, run: RoomsRun) -> None:
    """Every window's p99 and p50, in the order measured, and the servers' CPU over them."""
    figures[f"{prefix}_windows_p99_ms"] = " ".join(str(w.latency.ms(99)) for w in run.windows)
    figures[f"{prefix}_windows_p50_ms"] = " ".join(str(w.latency.ms(50)) for w in run.windows)
    figures[f"{prefix}_server_cpu_pct"] = run.half_cpu_pct


def _describe_windows(figures: Figures, prefix: str, run: RoomsRun) -> None:
    """What a side's windows at one rate measured: each window's p50/p99, the servers' CPU,
    counts over all windows, the median window's send lag, the generator's CPU, errors."""
    _window_figures(figures, prefix, run)
    figures[f"{prefix}_sent"] = run.total(lambda w: w.sent)
    figures[f"{prefix}_expected"] = run.total(lambda w: w.expected)
    figures[f"{prefix}_lost"] = run.total(lambda w: w.lost)
    figures[f"{prefix}_duplicates"] = run.total(lambda w: w.duplicates)
    figures[f"{prefix}_seq_duplicates"] = run.total(lambda w: w.seq_duplicates)
    figures[f"{prefix}_out_of_order"] = run.total(lambda w: w.out_of_order)
    figures[f"{prefix}_late_from_earlier_steps"] = run.total(lambda w: w.stale)
    half = run.half
    if half is not None:
        figures[f"{prefix}_send_lag_p99_ms"] = half.send_lag.ms(99)
    figures[f"{prefix}_generator_cpu_s"] = round(sum(w.generator_cpu_s for w in run.windows), 3)
    errors = error_counts(run.windows)
    if errors:
        figures[f"{prefix}_errors"] = str(errors)


def _describe_paired(figures: Figures, prefix: str, runs: dict[str, RoomsRun]) -> None:
    """Each side's windows, and its servers' CPU while the other side was measured."""
    for side, run in runs.items():
        _describe_windows(figures, f"{prefix}_{side}", run)
        figures[f"{prefix}_{side}_idle_server_cpu_pct"] = run.idle_cpu_pct


def _describe(figures: Figures, side: str, run: RoomsRun | None) -> None:
    if run is None:
        return
    figures[f"s2_{side}_connected"] = f"{run.connect.connected}/{run.connect.requested} in {run.connect.seconds} s"
    if run.connect.failures:
        figures[f"s2_{side}_connect_failures"] = str(run.connect.failures)
    figures[f"s2_{side}_peak_rate_per_s"] = run.search.peak_rate
    if run.search.peak_rate == MAX_RATE:
        figures[f"s2_{side}_peak_capped"] = f"sustained the search's cap of {MAX_RATE:g}/s: the real peak is higher"
    figures[f"s2_{side}_peak_p99_ms"] = run.search.peak.latency.ms(99) if run.search.peak else None
    figures[f"s2_{side}_search_steps"] = " ".join(run.search.steps)
    if run.windows:
        _describe_windows(figures, f"s2_{side}_alone", run)


@dataclass(frozen=True)
class Reference:
    """A server set the project is compared with; its figures are ``s2_<side>_*``."""

    side: str
    description: str
    start: Callable[[fixtures.BenchEnv], list[servers.ServerProcess]]


REFERENCES = [
    Reference(
        "baseline",
        f"bare websockets, {BARE_PROCESSES} processes, each line committed to PostgreSQL, then seq + PUBLISH via Redis",
        lambda env: [
            servers.start_bare(f"bare{index}", redis_url=env.redis_url, database_url=env.database_url)
            for index in range(BARE_PROCESSES)
        ],
    ),
    Reference(
        "nodb",
        f"the baseline without the database: {BARE_PROCESSES} processes, seq + PUBLISH via Redis (reference)",
        lambda env: [servers.start_bare(f"nodb{index}", redis_url=env.redis_url) for index in range(BARE_PROCESSES)],
    ),
    Reference(
        "floor",
        "bare websockets fan-out, 1 process, in-memory rooms (reference)",
        lambda env: [servers.start_bare("floor")],
    ),
]
BASELINE = next(reference for reference in REFERENCES if reference.side == "baseline")


def _peak_deliveries(run: RoomsRun | None) -> float | None:
    return run.search.peak.deliveries_per_s if run and run.search.peak else None


def _half(run: RoomsRun | None) -> ChatResult | None:
    return run.half if run else None


def _compare_latency(
    figures: Figures,
    prefix: str,
    first: RoomsRun | None,
    second: RoomsRun | None,
    *,
    p99_at_most: float | None = None,
    names: tuple[str, str] = ("project", "baseline"),
) -> None:
    """``<prefix>_p50_ms`` and ``<prefix>_p99_ms`` of two runs' median-p99 windows."""
    first_half, second_half = _half(first), _half(second)
    compare_latency(
        figures,
        prefix,
        first_half.latency if first_half else None,
        second_half.latency if second_half else None,
        p99_at_most=p99_at_most,
        names=names,
    )


def _over_windows(run: RoomsRun | None, count: Callable[[ChatResult], int]) -> int | None:
    return run.total(count) if run and run.windows else None


def _targets(figures: Figures, project: RoomsRun | None, bare: RoomsRun | None, paired: dict[str, RoomsRun]) -> None:
    """The issue's targets: the project against the baseline doing the same work; the
    peaks from each side's search, the rest from the paired windows at half the project's
    peak."""
    p_paired, b_paired = paired.get("project"), paired.get("baseline")
    p_half, b_half = _half(p_paired), _half(b_paired)
    compare(
        figures,
        "s2_peak_deliveries_per_s",
        _peak_deliveries(project),
        _peak_deliveries(bare),
        at_least=DELIVERIES_AT_LEAST,
        digits=1,
    )
    compare(
        figures,
        "s2_half_deliveries_per_s",
        p_half.deliveries_per_s if p_half else None,
        b_half.deliveries_per_s if b_half else None,
        digits=1,
    )
    _compare_latency(figures, "s2_half", p_paired, b_paired, p99_at_most=P99_AT_MOST)
    p_lost, b_lost = _over_windows(p_paired, lambda w: w.lost), _over_windows(b_paired, lambda w: w.lost)
    compare(figures, "s2_half_lost", p_lost, b_lost)
    target(figures, "s2_half_lost", p_lost == 0 if p_lost is not None else None, "project loses nothing")
    p_dups = _over_windows(p_paired, lambda w: w.duplicates)
    b_dups = _over_windows(b_paired, lambda w: w.duplicates)
    compare(figures, "s2_half_duplicates", p_dups, b_dups)
    target(
        figures,
        "s2_half_duplicates",
        p_dups == 0 if p_dups is not None else None,
        "project delivers nothing twice",
    )


def _tuning(figures: Figures, paired: dict[str, RoomsRun]) -> None:
    """The server tuning's gain in the half-peak windows, no target: the project with it /
    without it, at the same rate, the median-p99 window's latency and the servers' CPU."""
    tuned, untuned = paired.get("project"), paired.get(UNTUNED)
    names = ("on", "off")
    _compare_latency(figures, "s2_half_tuning", tuned, untuned, names=names)
    compare(
        figures,
        "s2_half_tuning_server_cpu_pct",
        tuned.half_cpu_pct if tuned else None,
        untuned.half_cpu_pct if untuned else None,
        digits=1,
        names=names,
    )


def _references(figures: Figures, project: RoomsRun | None, measured: dict[str, RoomsRun | None]) -> None:
    """Without targets: each side alone at half the project's peak (the project after its
    search, the references before theirs), minutes apart; and the peaks of nodb and floor."""
    for side, reference_run in measured.items():
        prefix = "s2_alone_half" if side == "baseline" else f"s2_{side}_half"
        _compare_latency(figures, prefix, project, reference_run)
        if side != "baseline":
            compare(
                figures, f"s2_{side}_peak_deliveries_per_s", _peak_deliveries(project),
                _peak_deliveries(reference_run), digits=1,
            )  # fmt: skip


def run(quick: bool = False) -> Figures:
    env = fixtures.prepare()
    fixtures.flush_redis(env.redis_url)  # nothing left over from an earlier scenario
    sizing = QUICK if quick else FULL
    rooms = fixtures.create_rooms("s2", sizing.rooms, sizing.members)
    untuned_rooms = fixtures.create_rooms("s2-untuned", sizing.rooms, sizing.members)
    figures: Figures = {
        "s2_rooms": sizing.rooms,
        "s2_members_per_room": sizing.members,
        "s2_project_processes": PROJECT_PROCESSES,
        **{f"s2_{reference.side}": reference.description for reference in REFERENCES},
        f"s2_{UNTUNED}": (
            f"the project with {servers.tuning_description(servers.TUNING_OFF)}, {PROJECT_PROCESSES} processes,"
            " in the half-peak paired windows only"
        ),
        "s2_baseline_processes": BARE_PROCESSES,
        "s2_load_workers": default_workers(),
        "s2_step_seconds": sizing.step_seconds,
        "s2_final_seconds": sizing.final_seconds,
        "s2_paired_windows": PAIRED_WINDOWS,
        "s2_peak_rule": (
            f"zero loss, zero duplicates, no socket closed, p99 <= {P99_LIMIT_MS:g} ms, "
            f"held {CONFIRM_FACTOR} steps long"
        ),
    }
    project: RoomsRun | None = None

    def settle() -> None:
        fixtures.settle_database(env.database_url)

    try:
        daphnes = _start_project(env)
        with servers.running(*daphnes, http_path=servers.HEALTH_PATH) as group:
            project = _measure(group, rooms, True, sizing, sizing.start_rate, None, settle)
    except Exception as exc:
        failed(figures, "s2_project_error", exc)
    project_peak = project.search.peak_rate if project else None
    half_rate = project_peak / 2 if project_peak else None
    measured: dict[str, RoomsRun | None] = {}
    for reference in REFERENCES:
        measured[reference.side] = None
        try:
            settle()  # each side starts from a quiet database
            with servers.running(*reference.start(env)) as group:
                # Expected to go further: the search starts at the project's peak.
                measured[reference.side] = _measure(
                    group, rooms, False, sizing, project_peak or sizing.start_rate, half_rate, settle
                )
        except Exception as exc:
            failed(figures, f"s2_{reference.side}_error", exc)
    bare = measured["baseline"]
    if half_rate is None and bare is not None and bare.search.peak_rate:
        figures["s2_half_rate_basis"] = "half the bare peak (the project has no peak)"
        half_rate = bare.search.peak_rate / 2
    else:
        figures["s2_half_rate_basis"] = "half the project's peak"
    figures["s2_half_rate_per_s"] = half_rate
    low = low_rate(project_peak, bare.search.peak_rate if bare else None)
    figures["s2_low_rate_per_s"] = low if low is not None else "not measured: the half-peak rate is below both peaks"
    paired = Paired()
    if half_rate:
        try:
            paired = _measure_paired(env, rooms, untuned_rooms, sizing, half_rate, low, settle)
        except Exception as exc:
            failed(figures, "s2_paired_error", exc)
    _targets(figures, project, bare, paired.half)
    _tuning(figures, paired.half)
    _describe_paired(figures, "s2_half", paired.half)
    if paired.low:
        _compare_latency(figures, "s2_low", paired.low.get("project"), paired.low.get("baseline"))
        _describe_paired(figures, "s2_low", paired.low)
    _references(figures, project, measured)
    _describe(figures, "project", project)
    for side, reference_run in measured.items():
        _describe(figures, side, reference_run)
    return figures


SCENARIO = register(
    Scenario(
        name="s2",
        description="chat in 200 rooms x 10 over 2 Daphnes: peak rate, then latency/loss at half the project's peak",
        run=run,
    )
)

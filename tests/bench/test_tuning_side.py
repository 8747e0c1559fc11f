"""The bench's "project, tuning off" side (bench/servers.py, S1 and S2): how its Daphnes are
configured, its place in the S2 paired windows, and its figures (project on / off)."""

from __future__ import annotations

from typing import cast

from bench.load import ConnectResult, EchoResult, Latency, LoadPool
from bench.report import compare
from bench.scenarios import s1_echo
from bench.scenarios.s1_echo import EchoRun
from bench.scenarios.s2_rooms import UNTUNED, Side, alternate, paired_order
from bench.servers import tuning_description, tuning_env
from tests.bench.test_paired_windows import RecordingPool, sides


def test_a_side_is_started_with_every_patch_with_none_or_without_the_named_ones() -> None:
    # Set either way, so a WS_SERVER_TUNING in the bench's own environment changes nothing.
    assert tuning_env(None) == {"WS_SERVER_TUNING": "1", "WS_SERVER_TUNING_OFF": ""}
    assert tuning_env("all") == {"WS_SERVER_TUNING": "0", "WS_SERVER_TUNING_OFF": ""}
    assert tuning_env("write,unmask") == {"WS_SERVER_TUNING": "1", "WS_SERVER_TUNING_OFF": "write,unmask"}
    assert tuning_description("all") == "WS_SERVER_TUNING=0"
    assert tuning_description("write") == "WS_SERVER_TUNING=1 WS_SERVER_TUNING_OFF=write"


def test_with_a_third_side_every_side_goes_first_and_last_in_turn() -> None:
    assert paired_order(2, ["project", "baseline", UNTUNED]) == [
        "project", "baseline", UNTUNED, UNTUNED, "baseline", "project",
    ]  # fmt: skip
    # Two sides: the order the project / baseline target was measured in before.
    assert paired_order(2, ["project", "baseline"]) == paired_order(2) == ["project", "baseline", "baseline", "project"]


def test_the_untuned_side_takes_its_turns_in_the_same_windows_each_after_every_side_is_quiet() -> None:
    log: list[str] = []
    three = sides(log)
    untuned_pool = cast(LoadPool, RecordingPool(UNTUNED, log, latency_us=5_000))
    three[UNTUNED] = Side(group=[], pool=untuned_pool, connect=three["project"].connect)

    runs = alternate(three, rate=300, pairs=2, seconds=6.0, settle_database=lambda: log.append("vacuum"))

    chats = [entry.split()[1] for entry in log if entry.startswith("chat")]
    assert chats == paired_order(2, ["project", "baseline", UNTUNED])
    for index, entry in enumerate(log):
        if entry.startswith("chat"):
            assert log[index - 4 : index] == ["vacuum", "quiet project", "quiet baseline", f"quiet {UNTUNED}"]
    assert {name: len(run.windows) for name, run in runs.items()} == {"project": 2, "baseline": 2, UNTUNED: 2}
    untuned = runs[UNTUNED].half
    assert untuned is not None and untuned.latency.ms(99) == 5.0


def test_tuning_figures_are_named_on_and_off_with_the_ratio_on_over_off() -> None:
    figures: dict[str, object] = {}
    compare(figures, "s1_tuning_throughput", 900.0, 600.0, digits=1, names=("on", "off"))
    assert figures == {
        "s1_tuning_throughput_on": 900.0,
        "s1_tuning_throughput_off": 600.0,
        "s1_tuning_throughput_ratio": 1.5,
    }
    # The other figures keep their names.
    compare(figures, "s1_throughput", 900.0, 3000.0)
    assert figures["s1_throughput_project"] == 900.0 and figures["s1_throughput_baseline"] == 3000.0


def _echo_run(pongs_per_s: float, cpu_s: float, p99_us: int) -> EchoRun:
    def result(pongs: int) -> EchoResult:
        return EchoResult(
            sent=pongs, pongs=pongs, pongs_total=pongs, seconds=1.0, latency=Latency([p99_us] * 100), lost=0,
            errors={}, send_lag=Latency([0]), closed=0, generator_cpu_s=0.0,
        )  # fmt: skip

    connected = ConnectResult(requested=10, connected=10, seconds=1.0, failures={})
    return EchoRun(connected, result(int(pongs_per_s)), 50.0, cpu_s, windows=[result(100)] * 3)


def test_s1_reports_the_project_against_the_baseline_and_against_itself_untuned_the_same_way() -> None:
    project, bare, untuned = _echo_run(900, 3.0, 4_000), _echo_run(3000, 3.0, 2_000), _echo_run(600, 3.0, 8_000)
    figures: dict[str, object] = {}
    s1_echo._compare_runs(figures, "s1", project, bare, targets=True)
    s1_echo._compare_runs(figures, "s1_tuning", project, untuned, names=("on", "off"))

    # The targets' figures as before: project / baseline.
    assert figures["s1_throughput_ratio"] == 0.3 and figures["s1_throughput_target_met"] is True
    assert figures["s1_p99_ms_ratio"] == 2.0 and figures["s1_p99_ms_target_met"] is True
    assert figures["s1_pongs_per_server_cpu_s_project"] == 300
    # The tuning's: on / off, no target.
    assert figures["s1_tuning_throughput_on"] == 900.0 and figures["s1_tuning_throughput_off"] == 600.0
    assert figures["s1_tuning_throughput_ratio"] == 1.5
    assert figures["s1_tuning_pongs_per_server_cpu_s_ratio"] == 1.5
    assert figures["s1_tuning_p99_ms_ratio"] == 0.5
    assert not any(key.startswith("s1_tuning") and key.endswith("_target_met") for key in figures)

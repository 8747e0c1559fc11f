"""The S2 paired phase (bench/scenarios/s2_rooms.py): the target's windows alternate between
the project and the baseline, so a drift in the machine's speed falls on both alike."""

from __future__ import annotations

from typing import cast

from bench.load import ChatResult, ConnectResult, Latency, LoadPool
from bench.scenarios.s2_rooms import Side, alternate, paired_order


class RecordingPool:
    """A load generator that records what it is asked, in one log shared by both sides."""

    def __init__(self, name: str, log: list[str], latency_us: int) -> None:
        self.name = name
        self.log = log
        self.latency_us = latency_us

    def chat(self, rate: float, seconds: float, max_drain: float = 0.0) -> ChatResult:
        self.log.append(f"chat {self.name} {rate:g}")
        return ChatResult(
            rate=rate, seconds=seconds, sent=10, expected=100, delivered=100, duplicates=0, seq_duplicates=0,
            out_of_order=0, stale=0, latency=Latency([self.latency_us] * 100), send_lag=Latency([0]), errors={},
            closed=0, sockets_open=20, generator_cpu_s=0.0,
        )  # fmt: skip

    def settle(self, quiet: float, limit: float) -> None:
        self.log.append(f"quiet {self.name}")


def sides(log: list[str]) -> dict[str, Side]:
    connected = ConnectResult(requested=20, connected=20, seconds=1.0, failures={})
    return {
        name: Side(group=[], pool=cast(LoadPool, RecordingPool(name, log, latency_us)), connect=connected)
        for name, latency_us in (("project", 4_000), ("baseline", 2_000))
    }


def test_pairs_alternate_which_side_goes_first() -> None:
    assert paired_order(3) == ["project", "baseline", "baseline", "project", "project", "baseline"]
    assert paired_order(0) == []


def test_each_side_gets_its_windows_in_alternation_each_after_a_settled_database_and_quiet_sockets() -> None:
    log: list[str] = []
    runs = alternate(sides(log), rate=300, pairs=3, seconds=6.0, settle_database=lambda: log.append("vacuum"))

    chats = [entry.split()[1] for entry in log if entry.startswith("chat")]
    assert chats == paired_order(3)
    assert all(entry == "chat project 300" or entry == "chat baseline 300" for entry in log if "chat" in entry)
    # Before every window: the database settled, then both sides' sockets quiet.
    for index, entry in enumerate(log):
        if entry.startswith("chat"):
            assert log[index - 3 : index] == ["vacuum", "quiet project", "quiet baseline"]
    assert {name: len(run.windows) for name, run in runs.items()} == {"project": 3, "baseline": 3}
    # Each side's figures come from its own windows only.
    assert runs["project"].half is not None and runs["project"].half.latency.ms(99) == 4.0
    assert runs["baseline"].half is not None and runs["baseline"].half.latency.ms(99) == 2.0

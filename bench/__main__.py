"""`make bench`: run the benchmark scenarios, print a table, write bench/results/<time>.json.

Each scenario returns figures for the project and for a baseline measured in the same run
on the same machine, and the ratio between them; timings are never asserted in tests.
Scenarios live in bench/scenarios/*.py and register themselves in SCENARIOS.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.scenarios import SCENARIOS

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="scenario names to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller loads, for a smoke run")
    args = parser.parse_args(argv)

    selected = [s for s in SCENARIOS if not args.only or s.name in args.only]
    started = datetime.now(UTC)
    results = []
    for scenario in selected:
        print(f"== {scenario.name}: {scenario.description}", flush=True)
        t0 = time.perf_counter()
        figures = scenario.run(quick=args.quick)
        figures["elapsed_s"] = round(time.perf_counter() - t0, 2)
        results.append({"name": scenario.name, "description": scenario.description, **figures})
        for key, value in figures.items():
            print(f"   {key:<40} {value}", flush=True)
    summary = {
        "started_at": started.isoformat(),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "quick": args.quick,
        "scenarios": results,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(summary, indent=2))
    if not selected:
        print("no scenarios registered yet")
    print(f"results written to {out}")
    return 0


def _cpus() -> int | None:
    import os

    return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())

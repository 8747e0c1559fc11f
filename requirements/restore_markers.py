"""Put the environment markers of pyproject's ``embedded`` extra back on their lines of a
lock: pip-compile evaluates markers on the machine it runs on and writes none, and without
them pip on a machine with no wheel for an engine (Linux arm64) would fail to install the
lock, where it should skip the engine (`make run` then asks for DATABASE_URL / REDIS_URL).

    python requirements/restore_markers.py requirements/dev.lock
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def embedded_markers() -> dict[str, str]:
    extra = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["optional-dependencies"]["embedded"]
    markers = {}
    for requirement in extra:
        spec, _, marker = requirement.partition(";")
        name = re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0].lower()
        if marker.strip():
            markers[name] = marker.strip().replace("'", '"')
    return markers


def restore(text: str, markers: dict[str, str]) -> str:
    def add(match: re.Match[str]) -> str:
        marker = markers.get(match.group(1).lower())
        return f"{match.group(1)}=={match.group(2)} ; {marker}" if marker else match.group(0)

    return re.sub(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)(?= \\$|$)", add, text, flags=re.M)


def main(path: str) -> None:
    lock = Path(path)
    lock.write_text(restore(lock.read_text(), embedded_markers()))


if __name__ == "__main__":
    main(sys.argv[1])

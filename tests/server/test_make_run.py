"""End to end: a fresh clone, `make run`, ready, log in as ava, Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import ProcessLog, free_port

BASE_DIR = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post_json(url: str, body: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.slow
def test_fresh_clone_make_run_serves_and_ava_can_log_in(tmp_path: Path) -> None:
    clone = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", str(BASE_DIR), str(clone)], check=True, timeout=60)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env["PORT"] = str(port)
    process = subprocess.Popen(
        ["make", "run", f"VENV={VENV}", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    log = ProcessLog(process)
    base = f"http://127.0.0.1:{port}"
    try:
        assert log.wait_for(lambda text: "demo password" in text, timeout=240), log.text()
        status, _ = _get(f"{base}/readyz")
        assert status == 200
        status, body = _post_json(f"{base}/api/v1/auth/token/", {"username": "ava", "password": "demo-pass-2026"})
        assert status == 200, body
        request = urllib.request.Request(f"{base}/api/v1/me/", headers={"Authorization": f"Bearer {body['token']}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            me = json.loads(response.read())
        assert me["username"] == "ava"
        assert me["age_band"] == "adolescent"
        assert "http://127.0.0.1" in log.text() and "ava" in log.text()
        # make run is the demo (DEMO=1): demo staff sign in with the password alone, no second factor.
        for staff in ("dana", "ada"):
            status, body = _post_json(f"{base}/api/v1/auth/token/", {"username": staff, "password": "demo-pass-2026"})
            assert status == 200, body
    finally:
        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    # Everything it started has stopped: the port is free and the embedded Redis is gone.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _port_busy(port):
        time.sleep(0.2)
    assert not _port_busy(port), log.text()
    assert not (clone / ".iop" / "redis.sock").exists()
    assert "stopping" in log.text()


def _port_busy(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_make_run_reports_a_port_in_use_clearly(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "server.run"],
            cwd=BASE_DIR,
            env={**os.environ, "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr

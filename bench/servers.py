"""Server processes under test: the project in Daphne, and the bare baseline (bench/bare.py).

Each runs as a subprocess on a free localhost port, with its output in a log file under a
temporary folder (shown when it fails to start). ``ServerProcess.cpu_seconds()`` reads its
user + system CPU time with psutil.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from django.conf import settings

from bench.fixtures import BASE_DIR, BenchEnv
from server import serve

HOST = "127.0.0.1"
# Liveness probe of the project (server/health.py): 200 once Django answers.
HEALTH_PATH = "/healthz"
VENV_BIN = Path(sys.executable).parent
# The project's ASGI application; BENCH_ASGI_APP points the bench at another one (a stand-in).
PROJECT_APP = os.environ.get("BENCH_ASGI_APP", "server.asgi:application")
# Benchmarks lift the production limit of 100 inbound frames a minute per socket.
FRAMES_PER_MINUTE = "1000000"
# What the "project, tuning off" side leaves out of server/daphne_tuning.py: "all" (every
# patch, WS_SERVER_TUNING=0), or a comma list of patch names (WS_SERVER_TUNING_OFF), so one
# run measures one patch's gain: BENCH_TUNING_OFF=write make bench ARGS="--only s1".
TUNING_OFF = os.environ.get("BENCH_TUNING_OFF", "all")
_LOG_DIR: Path | None = None


def log_dir() -> Path:
    global _LOG_DIR
    if _LOG_DIR is None:
        _LOG_DIR = Path(tempfile.mkdtemp(prefix="iop-bench-"))
    return _LOG_DIR


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def origin(port: int) -> str:
    return f"http://{HOST}:{port}"


class ServerProcess:
    def __init__(self, name: str, port: int, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.port = port
        self.log_path = log_dir() / f"{name}-{port}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the bench, which stops us in order
        )
        self.process = psutil.Process(self.popen.pid)

    @property
    def origin(self) -> str:
        return origin(self.port)

    def ws_url(self, path: str) -> str:
        return f"ws://{HOST}:{self.port}{path}"

    def cpu_seconds(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_ready(self, timeout: float = 60.0, http_path: str | None = None) -> None:
        """Until the port answers (and ``http_path`` returns 200, when given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.log_tail()}")
            if _answers(self.port, http_path):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} on port {self.port} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


def _answers(port: int, http_path: str | None) -> bool:
    try:
        if http_path is None:
            with socket.create_connection((HOST, port), timeout=1):
                return True
        conn = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            conn.request("GET", http_path)
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except OSError:
        return False


def tuning_env(off: str | None) -> dict[str, str]:
    """The server-tuning settings of a project Daphne: every patch (``off`` None), none
    (``"all"``), or all but the named ones. Set either way, so the bench's own environment
    never changes what a side runs."""
    if off is None:
        return {"WS_SERVER_TUNING": "1", "WS_SERVER_TUNING_OFF": ""}
    if off.strip() == "all":
        return {"WS_SERVER_TUNING": "0", "WS_SERVER_TUNING_OFF": ""}
    return {"WS_SERVER_TUNING": "1", "WS_SERVER_TUNING_OFF": off}


def tuning_description(off: str | None) -> str:
    """How a side's tuning was set, for the figures."""
    return " ".join(f"{key}={value}" for key, value in tuning_env(off).items() if value)


def start_daphne(
    env: BenchEnv, name: str = "daphne", port: int | None = None, tuning_off: str | None = None
) -> ServerProcess:
    """One Daphne process serving the project on the bench database and Redis db, with all
    of server/daphne_tuning.py's patches, or without those ``tuning_off`` names (tuning_env)."""
    port = port or free_port()
    child_env = env.child_env(
        PORT=str(port),
        ALLOWED_ORIGINS=origin(port),
        WS_FRAMES_PER_MINUTE=FRAMES_PER_MINUTE,
        LOG_LEVEL=os.environ.get("BENCH_SERVER_LOG_LEVEL", "WARNING"),
        **tuning_env(tuning_off),
    )
    command = serve.command(str(VENV_BIN / "python"), HOST, port, app=PROJECT_APP)
    return ServerProcess(name, port, command, child_env)


def start_bare(
    name: str = "bare", port: int | None = None, redis_url: str | None = None, database_url: str | None = None
) -> ServerProcess:
    """The bare websockets baseline (bench/bare.py); with ``redis_url``, one of several
    processes sharing rooms through Redis."""
    port = port or free_port()
    command = [sys.executable, "-m", "bench.bare", "--host", HOST, "--port", str(port)]
    if redis_url:
        # The project's pool size (the bench process has Django set up: fixtures.prepare).
        command += ["--redis", redis_url, "--redis-pool-size", str(settings.REDIS_POOL_SIZE)]
    if database_url:
        command += ["--database", database_url, "--database-pool-size", str(settings.DB_ASYNC_POOL_SIZE)]
    return ServerProcess(name, port, command, dict(os.environ, PYTHONUNBUFFERED="1"))


@contextlib.contextmanager
def running(*servers: ServerProcess, http_path: str | None = None) -> Iterator[list[ServerProcess]]:
    """Wait until every server is ready; stop them all on the way out."""
    try:
        for server in servers:
            server.wait_ready(http_path=http_path)
        yield list(servers)
    finally:
        for server in servers:
            server.stop()

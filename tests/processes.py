"""Start real processes (Celery workers, Daphne) against the test database and Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from server import serve

BASE_DIR = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent


def test_database_url() -> str:
    """DATABASE_URL of the database pytest-django created, for child processes."""
    params = connection.settings_dict
    host = quote(str(params["HOST"] or ""), safe="")
    port = f":{params['PORT']}" if params.get("PORT") else ""
    password = f":{quote(str(params['PASSWORD']))}" if params.get("PASSWORD") else ""
    return f"postgresql://{params['USER']}{password}@{host}{port}/{params['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ProcessLog:
    """Collects a child's output lines so tests can wait for or count them."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._lock = threading.Lock()
        assert process.stdout is not None
        threading.Thread(target=self._pump, args=(process.stdout,), daemon=True).start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.text()):
                return True
            if self.process.poll() is not None:
                return predicate(self.text())
            time.sleep(0.1)
        return False


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": test_database_url(), "PYTHONUNBUFFERED": "1", **extra}


@contextmanager
def running(command: list[str], env: dict[str, str]) -> Iterator[ProcessLog]:
    process = subprocess.Popen(
        command,
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    log = ProcessLog(process)
    try:
        yield log
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def celery_worker(
    queue: str, concurrency: int = 1, extra_env: dict[str, str] | None = None, clock: datetime | None = None
) -> Iterator[ProcessLog]:
    """``clock``: the worker's clock starts at this instant (tests/support/time_travel_celery.py)."""
    celery = [str(BIN_DIR / "celery")]
    if clock is not None:
        celery = [str(BIN_DIR / "python"), "-m", "tests.support.time_travel_celery", clock.isoformat()]
    command = [
        # Both of the test's queues: its default one and its email queue (settings' task routes).
        *celery, "-A", "server", "worker", "-Q", f"{queue},{queue}-email", "--concurrency", str(concurrency),
        "--loglevel", "INFO", "--without-heartbeat", "--without-gossip", "--without-mingle",
        "--hostname", f"{queue}@%h",
    ]  # fmt: skip
    with running(command, child_env(CELERY_QUEUE=queue, **(extra_env or {}))) as log:
        if not log.wait_for(lambda text: "ready." in text, timeout=30):
            raise RuntimeError(f"celery worker did not start:\n{log.text()}")
        yield log


def wait_for_port(port: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


@contextmanager
def daphne(port: int, extra_env: dict[str, str] | None = None) -> Iterator[ProcessLog]:
    """A real Daphne process serving the project on 127.0.0.1:port."""
    command = serve.command(str(BIN_DIR / "python"), "127.0.0.1", port)
    env = child_env(ALLOWED_ORIGINS=f"http://127.0.0.1:{port}", **(extra_env or {}))
    with running(command, env) as log:
        if not wait_for_port(port):
            raise RuntimeError(f"daphne did not start:\n{log.text()}")
        yield log


def assert_setting_refused_at_start(name: str, value: str) -> None:
    """Django, started with the setting ``name`` at ``value`` in its environment, refuses to
    start (ImproperlyConfigured naming the setting): a nonsense value fails at once, not
    in a sweep hours later."""
    env = {**os.environ, name: value, "DJANGO_SETTINGS_MODULE": "server.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr

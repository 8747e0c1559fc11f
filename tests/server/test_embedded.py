"""The embedded engines start from nothing, keep data across restarts, and stop."""

from __future__ import annotations

from pathlib import Path

import psycopg
import redis

from server.embedded import engines
from server.redis_urls import celery_broker_url


def _pg_connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


def test_engines_start_from_an_empty_folder_and_keep_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    data_dir = tmp_path / "data"
    with engines(data_dir) as env:
        assert env["DATABASE_URL"].startswith("postgresql://")
        assert env["REDIS_URL"].startswith("unix://")
        with _pg_connect(env["DATABASE_URL"]) as conn:
            conn.execute("CREATE TABLE kept (value text)")
            conn.execute("INSERT INTO kept VALUES ('still here')")
            conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        client = redis.Redis.from_url(env["REDIS_URL"])
        client.set("kept", "yes")
        client.connection_pool.disconnect()
        first_redis_url = env["REDIS_URL"]
    # Stopped: the Redis socket no longer answers.
    stopped = redis.Redis.from_url(first_redis_url, socket_connect_timeout=0.5)
    try:
        stopped.ping()
        raise AssertionError("embedded Redis still answers after the engines stopped")
    except (redis.ConnectionError, FileNotFoundError, OSError):
        pass
    with engines(data_dir) as env:
        with _pg_connect(env["DATABASE_URL"]) as conn:
            assert conn.execute("SELECT value FROM kept").fetchone() == ("still here",)
        assert redis.Redis.from_url(env["REDIS_URL"]).get("kept") == b"yes"


def test_services_in_the_environment_are_used_instead(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://example/db")
    monkeypatch.setenv("REDIS_URL", "redis://example:6379/0")
    with engines(tmp_path / "unused") as env:
        assert env == {}
    assert not (tmp_path / "unused" / "pg").exists()


def test_celery_broker_url_for_unix_socket_redis() -> None:
    assert celery_broker_url("unix:///tmp/r.sock?db=3") == "redis+socket:///tmp/r.sock?virtual_host=3"
    assert celery_broker_url("redis://127.0.0.1:6379/1") == "redis://127.0.0.1:6379/1"

"""The embedded engines start from nothing, keep data across restarts, and stop."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import redis

from server import embedded
from server.embedded import engines
from server.redis_urls import celery_broker_url, pubsub_prefix


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


def test_pubsub_channel_names_carry_the_redis_db() -> None:
    assert pubsub_prefix("redis://127.0.0.1:6379/2") == "iop:db2:"
    assert pubsub_prefix("redis://127.0.0.1:6379") == "iop:db0:"
    assert pubsub_prefix("unix:///tmp/r.sock?db=3") == "iop:db3:"


def test_a_grown_append_only_file_is_compacted_after_a_start(tmp_path: Path, monkeypatch) -> None:
    data_dir = tmp_path / "data"
    with embedded.embedded_redis(data_dir) as url:
        client = redis.Redis.from_url(url)
        for index in range(2000):  # history the data no longer needs: written, then deleted
            client.set(f"gone:{index}", "x" * 100)
            client.delete(f"gone:{index}")
        client.set("kept", "yes")
        client.connection_pool.disconnect()
    grown = embedded._aof_bytes(data_dir / "redis")
    monkeypatch.setattr(embedded, "AOF_COMPACT_BYTES", grown // 2)
    with embedded.embedded_redis(data_dir) as url:
        assert redis.Redis.from_url(url).get("kept") == b"yes"
    # The rewrite started after the start and was let finish before the stop.
    assert embedded._aof_bytes(data_dir / "redis") < grown // 10
    with embedded.embedded_redis(data_dir) as url:
        assert redis.Redis.from_url(url).get("kept") == b"yes"


class _Running:
    def poll(self) -> None:
        return None


def test_a_redis_still_loading_its_data_is_waited_for(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(embedded, "REDIS_START_SECONDS", 0.2)
    states = iter(["down", *["loading"] * 10, "ready"])  # loading for 0.5 s, past the 0.2 s
    monkeypatch.setattr(embedded, "_redis_state", lambda socket_path: next(states))
    embedded._wait_for_redis(_Running(), tmp_path / "redis.sock", tmp_path)  # type: ignore[arg-type]
    assert next(states, "done") == "done"


def test_a_redis_that_never_answers_is_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(embedded, "REDIS_START_SECONDS", 0.2)
    monkeypatch.setattr(embedded, "_redis_state", lambda socket_path: "down")
    with pytest.raises(embedded.EngineError, match="did not answer"):
        embedded._wait_for_redis(_Running(), tmp_path / "redis.sock", tmp_path)  # type: ignore[arg-type]

"""Translate one REDIS_URL into the forms each client library wants."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from redis.connection import parse_url


def celery_broker_url(redis_url: str) -> str:
    """Kombu spells a unix-socket Redis as ``redis+socket://`` with ``virtual_host`` for the db."""
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    db = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{parts.path}?virtual_host={db}"


def pubsub_prefix(redis_url: str) -> str:
    """The prefix of the project's pub/sub channel names. Redis pub/sub ignores the db a
    client selected, so without the db in the name, two deployments on one server (``make
    run`` on db 0, ``make test`` on db 1, the bench on db 2) would hear each other's room
    frames and revocations."""
    return f"iop:db{int(parse_url(redis_url).get('db') or 0)}:"

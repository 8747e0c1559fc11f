"""Translate one REDIS_URL into the forms each client library wants."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit


def celery_broker_url(redis_url: str) -> str:
    """Kombu spells a unix-socket Redis as ``redis+socket://`` with ``virtual_host`` for the db."""
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    db = parse_qs(parts.query).get("db", ["0"])[0]
    return f"redis+socket://{parts.path}?virtual_host={db}"

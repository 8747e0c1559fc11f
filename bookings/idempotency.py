"""Idempotency-Key for POSTs that create something: a retried request gets the first answer
instead of doing the work twice.

Per caller, endpoint (``scope``) and key, the first successful answer (status and body) is
stored in an IdempotencyRecord. The same key and body get it again; the same key with
another body is a 422; a key older than KEY_TTL is free again (treated as new; a beat task
deletes expired rows). A refused request (4xx) did nothing and stores nothing, so its retry
is answered afresh, and bad input changes no row.

Two requests with the same key at once: each takes a PostgreSQL advisory lock named by
(user, scope, key) before reading the record, in the transaction that does the work and
stores the answer. The second waits for the first to commit, then finds its record and
replays it, so the work is done once. The unique constraint on the record is the backstop.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from bookings.models import IdempotencyRecord
from server.api_helpers import request_user
from server.errors import NamedError

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255  # IdempotencyRecord.key
KEY_TTL = timedelta(hours=24)
# Visible ASCII: a UUID, a ULID or any client's random string fits; control characters,
# spaces and non-ASCII do not.
_KEY_PATTERN = re.compile(r"^[\x21-\x7e]+$")
_SWEEP_BATCH = 5000


class IdempotencyKeyReused(NamedError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used with another request body; use a new key for a new request."
    default_code = "idempotency_key_reused"


def request_key(request: Request) -> str:
    """The request's Idempotency-Key: required, 1 to 255 visible ASCII characters."""
    key = request.headers.get(HEADER)
    if key is None or key == "":
        raise exceptions.ValidationError({HEADER: ["Send an Idempotency-Key header (for example a random UUID)."]})
    if len(key) > MAX_KEY_LENGTH:
        raise exceptions.ValidationError({HEADER: [f"Use at most {MAX_KEY_LENGTH} characters."]})
    if not _KEY_PATTERN.match(key):
        raise exceptions.ValidationError({HEADER: ["Use visible ASCII characters only (no spaces)."]})
    return key


def request_digest(data: Any) -> str:
    """sha256 of the body in a canonical form (keys sorted), so the same JSON object sent
    with its keys in another order or other whitespace is the same request."""
    if hasattr(data, "lists"):  # a form-encoded QueryDict
        data = dict(data.lists())
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _lock_key(user_id: int, scope: str, key: str) -> None:
    digest = hashlib.sha256(f"idempotency:{user_id}:{scope}:{key}".encode()).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest[:8], "big", signed=True)])


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.status_code)
    response[REPLAYED_HEADER] = "true"
    return response


def replay_or_run(
    *, request: Request, scope: str, run: Callable[[], Response], now: datetime | None = None
) -> Response:
    """The first answer to this caller's (scope, Idempotency-Key), or ``run()``'s, stored."""
    user = request_user(request)
    key = request_key(request)
    digest = request_digest(request.data)
    now = now or timezone.now()
    with transaction.atomic():
        _lock_key(user.pk, scope, key)
        record = IdempotencyRecord.objects.filter(user=user, scope=scope, key=key).first()
        if record is not None and record.created_at <= now - KEY_TTL:
            record.delete()
            record = None
        if record is not None:
            if record.request_digest != digest:
                raise IdempotencyKeyReused()
            return _replay(record)
        # An error raised here rolls the whole transaction back: nothing is stored.
        response = run()
        if status.is_success(response.status_code):
            IdempotencyRecord.objects.create(
                user=user,
                scope=scope,
                key=key,
                request_digest=digest,
                status_code=response.status_code,
                response_body=response.data,
                created_at=now,
            )
    return response


def delete_expired_records(*, now: datetime | None = None) -> int:
    """Delete the records older than KEY_TTL, in batches (a beat task; idempotent)."""
    cutoff = (now or timezone.now()) - KEY_TTL
    deleted = 0
    while True:
        batch = list(
            IdempotencyRecord.objects.filter(created_at__lte=cutoff).values_list("pk", flat=True)[:_SWEEP_BATCH]
        )
        if not batch:
            return deleted
        deleted += IdempotencyRecord.objects.filter(pk__in=batch).delete()[0]

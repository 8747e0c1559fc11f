"""How an audit entry's hash is computed; shared by the writer and the verifier."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor_username: str,
    action: str,
    target_type: str,
    target_id: str,
    data: dict[str, Any],
    request_id: str,
    ip: str | None,
) -> str:
    canonical = json.dumps(
        {
            "prev": prev_hash,
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor_id,
            "actor_username": actor_username,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "data": data,
            "request_id": request_id,
            "ip": ip,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()

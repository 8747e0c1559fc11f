"""How an audit entry's hash is computed; shared by the writer and the verifier."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64
# Every field the hash covers, besides the previous entry's hash.
HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_username",
    "action",
    "target_type",
    "target_id",
    "data",
    "request_id",
    "ip",
)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = {name: fields[name] for name in HASHED_FIELDS}
    canonical["at"] = canonical["at"].isoformat(timespec="microseconds")
    canonical["prev"] = prev_hash
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def hashed_fields_of(entry: Any) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}

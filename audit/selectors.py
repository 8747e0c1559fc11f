"""Reading the audit chain back."""

from __future__ import annotations

from dataclasses import dataclass

from audit.chain import GENESIS_HASH, entry_hash, hashed_fields_of
from audit.models import AuditEntry


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def first_chain_break(batch_size: int = 2000) -> ChainBreak | None:
    """Walk the chain in order; return the first entry whose link or content is wrong."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for entry in AuditEntry.objects.order_by("seq").iterator(chunk_size=batch_size):
        if entry.seq != expected_seq:
            return ChainBreak(entry.seq, f"expected entry #{expected_seq}, found #{entry.seq} (a row is missing)")
        if entry.prev_hash != expected_prev:
            return ChainBreak(entry.seq, "prev_hash does not match the previous entry's hash")
        recomputed = entry_hash(entry.prev_hash, hashed_fields_of(entry))
        if recomputed != entry.hash:
            return ChainBreak(entry.seq, "content does not match its hash (the row was changed)")
        expected_prev = entry.hash
        expected_seq += 1
    return None

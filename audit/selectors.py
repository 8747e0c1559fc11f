"""Reading the audit chain back."""

from __future__ import annotations

from dataclasses import dataclass

from audit.chain import GENESIS_HASH, entry_hash, hashed_fields_of
from audit.models import AuditEntry, AuditVerification


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def first_chain_break(batch_size: int = 2000) -> ChainBreak | None:
    """Walk the chain in order; return the first entry whose link or content is wrong,
    or, for a chain that is whole but shorter than the last checkpoint, the checkpoint's
    missing head."""
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
    return checkpoint_break(entries=expected_seq - 1)


def latest_checkpoint() -> AuditVerification | None:
    return AuditVerification.objects.filter(intact=True, head_seq__isnull=False).order_by("-head_seq").first()


def checkpoint_break(*, entries: int) -> ChainBreak | None:
    """A chain that verifies on its own may still have lost its end: every entry after
    some point (a TRUNCATE empties it all). The last intact verification saw its head;
    that entry must still be there, unchanged, and the log no shorter."""
    checkpoint = latest_checkpoint()
    if checkpoint is None:
        return None
    assert checkpoint.head_seq is not None
    head = AuditEntry.objects.filter(seq=checkpoint.head_seq).values_list("hash", flat=True).first()
    if head is None or entries < checkpoint.entries:
        return ChainBreak(
            checkpoint.head_seq,
            f"entry #{checkpoint.head_seq}, the head at the {checkpoint.run_key} check "
            f"({checkpoint.entries} entries), is gone: {entries} entries left",
        )
    if head != checkpoint.head_hash:
        return ChainBreak(
            checkpoint.head_seq, f"entry #{checkpoint.head_seq} differs from the {checkpoint.run_key} check"
        )
    return None

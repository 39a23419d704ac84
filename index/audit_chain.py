"""The audit trail's hash chain: each row's sha256 covers its fields and the hash of the row before it.

Changing a row breaks its own hash; removing or inserting one breaks the id sequence or the next row's
link; cutting rows off the end leaves a shorter valid chain, which the head (the last id and hash, kept
beside the trail) shows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "0" * 64  # the previous hash of row 1


@dataclass(frozen=True)
class AuditEntry:
    """What one audited action records: when, who, from where, what, and its details as canonical JSON."""

    at: str  # ISO 8601 UTC with microseconds, so text order is time order
    actor: str
    address: str | None
    action: str
    details: str


@dataclass(frozen=True)
class AuditRow:
    """A stored entry with its place in the chain."""

    id: int
    entry: AuditEntry
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a chain: `problem` says what is wrong (None: OK), `bad_row` where."""

    rows: int
    bad_row: int | None = None
    problem: str | None = None
    head_id: int = 0
    head_hash: str = GENESIS
    past_head: int = 0  # rows after the one the head file names: a crash before its update, or appended

    @property
    def ok(self) -> bool:
        """True when every row and the head check out."""
        return self.problem is None


def canonical_details(details: dict[str, object]) -> str:
    """Details as the one JSON text that is stored and hashed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def row_hash(row_id: int, entry: AuditEntry, prev_hash: str) -> str:
    """sha256 hex over the canonical JSON array of the row's fields and the previous row's hash."""
    fields = [row_id, entry.at, entry.actor, entry.address, entry.action, entry.details, prev_hash]
    text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain(entries: Iterable[AuditEntry], last_id: int, last_hash: str) -> list[AuditRow]:
    """Rows for new entries that follow row `last_id` whose hash is `last_hash`."""
    rows = []
    for offset, entry in enumerate(entries, 1):
        row_id = last_id + offset
        digest = row_hash(row_id, entry, last_hash)
        rows.append(AuditRow(row_id, entry, last_hash, digest))
        last_hash = digest
    return rows


def verify(rows: Iterable[AuditRow], head: tuple[int, str] | None) -> Verdict:
    """Check rows in id order against each other and against the head recorded after the last write."""
    count, last_id, last_hash = 0, 0, GENESIS
    for row in rows:
        problem = _problem(row, last_id, last_hash)
        if problem is not None:
            return Verdict(count, row.id, problem, last_id, last_hash)
        count, last_id, last_hash = count + 1, row.id, row.hash
        if head is not None and row.id == head[0] and row.hash != head[1]:
            return Verdict(count, row.id, f"row {row.id}: its hash differs from the head's record of it")
    if head is not None and head[0] > last_id:
        missing = f"row {last_id + 1}: missing; the head says the trail reached row {head[0]}"
        return Verdict(count, last_id + 1, f"{missing} (rows were removed from the end)")
    if head is None and count:
        return Verdict(count, None, "the head file is missing, so rows removed from the end would not show")
    past = last_id - head[0] if head is not None else 0
    return Verdict(count, None, None, last_id, last_hash, past)


def _problem(row: AuditRow, last_id: int, last_hash: str) -> str | None:
    """Why a row does not follow the one before it, or None when it does."""
    if row.id != last_id + 1:
        if row.id > last_id + 1:
            return f"row {row.id}: follows row {last_id}, so rows {last_id + 1}..{row.id - 1} were removed"
        return f"row {row.id}: out of sequence after row {last_id}"
    if row.hash != row_hash(row.id, row.entry, row.prev_hash):
        return f"row {row.id}: its contents do not match its hash (the row was changed)"
    if row.prev_hash != last_hash:
        return f"row {row.id}: does not link to row {last_id} (a row before it was changed or inserted)"
    return None

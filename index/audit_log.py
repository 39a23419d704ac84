"""The audit trail's own SQLite file (WAL, synchronous=FULL): chained rows appended in transactions, read
by filters, and a head file beside it naming the last row written, so rows cut off the end show."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.audit_chain import GENESIS, AuditEntry, AuditRow, Verdict, chain, verify
from index.fsio import fsync_dir, write_atomic
from index.sqlite_conns import ThreadConnections

AUDIT_FILE = "audit.sqlite3"  # inside the data directory unless configured elsewhere
SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    address TEXT,
    action TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE INDEX IF NOT EXISTS audit_actor ON audit (actor, id);
CREATE INDEX IF NOT EXISTS audit_action ON audit (action, id);
"""
COLUMNS = "id, at, actor, address, action, details, prev_hash, hash"


@dataclass(frozen=True)
class AuditQuery:
    """Rows after `after_id` (up to `through_id`) in id order, at or after `since` and at or before
    `until` (ISO UTC text), by any of `actors` and `actions` when given."""

    since: str | None = None
    until: str | None = None
    actors: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    after_id: int = 0
    through_id: int | None = None
    limit: int = 100


def _row(values: tuple[Any, ...]) -> AuditRow:
    """A stored row from its columns."""
    row_id, at, actor, address, action, details, prev_hash, digest = values
    return AuditRow(row_id, AuditEntry(at, actor, address, action, details), prev_hash, digest)


def _values(row: AuditRow) -> tuple[Any, ...]:
    """A row's columns, in COLUMNS order."""
    e = row.entry
    return (row.id, e.at, e.actor, e.address, e.action, e.details, row.prev_hash, row.hash)


class AuditLog:
    """One audit trail file; append from one writer, read from any thread."""

    def __init__(self, path: Path, create: bool = True) -> None:
        if not create and not path.is_file():
            raise FileNotFoundError(f"no audit trail at {path}")
        self.path, self.head_path = path, path.with_name(path.name + ".head")
        mode = "rwc" if create else "rw"  # a reader never creates the file
        self._conns = ThreadConnections(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn().executescript(SCHEMA)

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (WAL, synchronous=FULL: a committed row survives a power cut)."""
        return self._conns.get()

    def append(self, entries: Sequence[AuditEntry]) -> AuditRow | None:
        """Chain entries after the last stored row in one transaction, then record the new head."""
        if not entries:
            return None
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")  # the last row is read under the write lock: writers never fork
        try:
            last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            rows = chain(entries, *(last or (0, GENESIS)))
            conn.executemany(
                f"INSERT INTO audit ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [_values(r) for r in rows],
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._write_head(rows[-1])
        return rows[-1]

    def _write_head(self, row: AuditRow) -> None:
        """The last row's id and hash, written after its commit (so the head never runs ahead)."""
        write_atomic(self.head_path, json.dumps({"id": row.id, "hash": row.hash}).encode())
        fsync_dir(self.head_path.parent)

    def head(self) -> tuple[int, str] | None:
        """(id, hash) of the last row the head file names, or None when there is no head file."""
        try:
            value = json.loads(self.head_path.read_text())
            return int(value["id"]), str(value["hash"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{self.head_path}: not a head file ({exc})") from exc

    def find(self, query: AuditQuery) -> list[AuditRow]:
        """Rows matching the query, oldest first."""
        params: list[object]
        where, params = ["id > ?"], [query.after_id]
        if query.through_id is not None:
            where.append("id <= ?")
            params.append(query.through_id)
        if query.since is not None:
            where.append("at >= ?")
            params.append(query.since)
        if query.until is not None:
            where.append("at <= ?")
            params.append(query.until)
        for column, values in (("actor", query.actors), ("action", query.actions)):
            if values:
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        sql = f"SELECT {COLUMNS} FROM audit WHERE {' AND '.join(where)} ORDER BY id LIMIT ?"
        return [_row(r) for r in self.conn().execute(sql, [*params, query.limit])]

    def last_id(self) -> int:
        """The id of the last stored row (0 when empty)."""
        return int(self.conn().execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0])

    def rows(self, batch: int = 2000) -> Iterator[AuditRow]:
        """Every row in id order, read in batches."""
        last = -(2**63)
        while (
            found := self.conn()
            .execute(f"SELECT {COLUMNS} FROM audit WHERE id > ? ORDER BY id LIMIT ?", (last, batch))
            .fetchall()
        ):
            last = found[-1][0]
            yield from (_row(r) for r in found)

    def verify(self) -> Verdict:
        """Check the whole chain and the head (see index.audit_chain.verify)."""
        return verify(self.rows(), self.head())

    def close(self) -> None:
        """Close every thread's connection."""
        self._conns.close()

"""Legal holds: items or whole tracks kept past retention (and refused to erasure) until released.

A hold names its items and tracks, why (an investigation) and who placed it; releasing it records who and
when and keeps the row, so the history of holds stays readable. A hold on a track covers every crop of
that track, also crops stored after the hold was placed.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from index.errors import UnknownIdsError
from index.rows import CHUNK

if TYPE_CHECKING:
    from index.records import Records

HOLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS holds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    reason TEXT NOT NULL,
    held_by TEXT NOT NULL,                 -- who placed it: the API key's name or 'anonymous'
    created_at TEXT NOT NULL,
    released_at TEXT,                      -- NULL while the hold is active
    released_by TEXT
);
CREATE TABLE IF NOT EXISTS hold_subjects (
    hold_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('item', 'track')),
    subject_id INTEGER NOT NULL,
    PRIMARY KEY (hold_id, kind, subject_id)
);
CREATE INDEX IF NOT EXISTS hold_subjects_subject ON hold_subjects(kind, subject_id);
"""
ACTIVE = (
    "SELECT s.subject_id FROM hold_subjects s JOIN holds h ON h.id = s.hold_id"
    " WHERE h.released_at IS NULL AND s.kind = '{kind}'"
)
# SQL true (never NULL, so NOT works) for an items row some active hold covers, directly or by its track
HELD_ITEM = (
    f"(items.id IN ({ACTIVE.format(kind='item')}) OR (items.track_id IS NOT NULL"
    f" AND items.track_id IN ({ACTIVE.format(kind='track')})))"
)


@dataclass(frozen=True)
class Hold:
    """One legal hold."""

    id: int
    reason: str
    held_by: str
    created_at: datetime
    items: tuple[int, ...]
    tracks: tuple[int, ...]
    released_at: datetime | None = None
    released_by: str | None = None


def held_among(conn: sqlite3.Connection, ids: Sequence[int]) -> set[int]:
    """The ids (of existing items) that an active hold covers."""
    held: set[int] = set()
    for i in range(0, len(ids), CHUNK):
        part = [int(x) for x in ids[i : i + CHUNK]]
        sql = f"SELECT id FROM items WHERE id IN ({','.join('?' * len(part))}) AND {HELD_ITEM}"
        held.update(r[0] for r in conn.execute(sql, part))
    return held


def holds_on(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, builtins.list[int]]:
    """Active hold id -> which of these items it covers (directly or through the item's track)."""
    found: dict[int, set[int]] = {}
    for i in range(0, len(ids), CHUNK):
        part = [int(x) for x in ids[i : i + CHUNK]]
        sql = (
            "SELECT h.id, items.id FROM items JOIN hold_subjects s ON (s.kind = 'item' AND"
            " s.subject_id = items.id) OR (s.kind = 'track' AND s.subject_id = items.track_id)"
            " JOIN holds h ON h.id = s.hold_id"
            f" WHERE h.released_at IS NULL AND items.id IN ({','.join('?' * len(part))})"
        )
        for hold_id, item_id in conn.execute(sql, part):
            found.setdefault(int(hold_id), set()).add(int(item_id))
    return {h: sorted(items) for h, items in sorted(found.items())}


def _missing(conn: sqlite3.Connection, table: str, ids: Iterable[int]) -> list[int]:
    """Which of these ids have no row in `table` (items or tracks)."""
    wanted = sorted(set(ids))
    found: set[int] = set()
    for i in range(0, len(wanted), CHUNK):
        part = wanted[i : i + CHUNK]
        sql = f"SELECT id FROM {table} WHERE id IN ({','.join('?' * len(part))})"
        found.update(r[0] for r in conn.execute(sql, part))
    return [i for i in wanted if i not in found]


class Holds:
    """The legal holds of one gallery."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def place(self, items: Sequence[int], tracks: Sequence[int], reason: str, by: str) -> Hold:
        """Hold these items and tracks; UnknownIdsError naming ids that do not exist (nothing is held)."""
        if not items and not tracks:
            raise ValueError("a hold needs at least one item or track")
        if not reason.strip():
            raise ValueError("a hold needs a reason")
        now = datetime.now(UTC).isoformat()
        with self.records.write() as conn:
            for field, table, ids in (("items", "items", items), ("tracks", "tracks", tracks)):
                if missing := _missing(conn, table, ids):
                    raise UnknownIdsError(field, missing)
            cursor = conn.execute(
                "INSERT INTO holds (reason, held_by, created_at) VALUES (?, ?, ?)", (reason, by, now)
            )
            hold_id = int(cursor.lastrowid or 0)
            subjects = [(hold_id, "item", i) for i in set(items)]
            subjects += [(hold_id, "track", t) for t in set(tracks)]
            conn.executemany(
                "INSERT INTO hold_subjects (hold_id, kind, subject_id) VALUES (?, ?, ?)", subjects
            )
        hold = self.get(hold_id)
        assert hold is not None
        return hold

    def release(self, hold_id: int, by: str) -> tuple[Hold, bool] | None:
        """Release a hold -> (the hold, whether this call released it); None when there is no such hold."""
        with self.records.write() as conn:
            changed = conn.execute(
                "UPDATE holds SET released_at = ?, released_by = ? WHERE id = ? AND released_at IS NULL",
                (datetime.now(UTC).isoformat(), by, hold_id),
            ).rowcount
        hold = self.get(hold_id)
        return (hold, changed > 0) if hold is not None else None

    def get(self, hold_id: int) -> Hold | None:
        """One hold, or None."""
        found = self._read("WHERE id = ?", [hold_id])
        return found[0] if found else None

    def list(self, include_released: bool = False) -> builtins.list[Hold]:
        """Holds, newest first: the active ones, or all."""
        return self._read("" if include_released else "WHERE released_at IS NULL", [], "ORDER BY id DESC")

    def covered(self) -> int:
        """How many stored items active holds cover now."""
        return int(self.records.conn().execute(f"SELECT COUNT(*) FROM items WHERE {HELD_ITEM}").fetchone()[0])

    def _read(self, where: str, params: builtins.list[object], order: str = "") -> builtins.list[Hold]:
        conn = self.records.conn()
        sql = f"SELECT id, reason, held_by, created_at, released_at, released_by FROM holds {where} {order}"
        holds = []
        for hid, reason, by, created, released, released_by in conn.execute(sql, params).fetchall():
            subjects = conn.execute(
                "SELECT kind, subject_id FROM hold_subjects WHERE hold_id = ? ORDER BY subject_id", (hid,)
            ).fetchall()
            items = tuple(s for k, s in subjects if k == "item")
            tracks = tuple(s for k, s in subjects if k == "track")
            created_at = datetime.fromisoformat(created)
            released_at = datetime.fromisoformat(released) if released else None
            holds.append(Hold(hid, reason, by, created_at, items, tracks, released_at, released_by))
        return holds

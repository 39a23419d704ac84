"""Retention: how long crops are kept (a default and per camera) and which of them have expired.

An item's age runs from when it was captured (`captured_at`), or, for an item with no capture time, from
when it was stored (`created_at`). Items an active legal hold covers never expire.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

from index.holds import HELD_ITEM

AGE = "COALESCE(captured_ts, created_ts)"  # Unix seconds an item's retention runs from


@dataclass(frozen=True)
class RetentionPolicy:
    """Seconds to keep items: `default_s` for uploads and unlisted cameras, `cameras` per camera name
    (None: keep forever)."""

    default_s: float | None = None
    cameras: Mapping[str, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a period that is not positive, naming it."""
        for name, seconds in [("default", self.default_s), *self.cameras.items()]:
            if seconds is not None and not seconds > 0:
                raise ValueError(f"retention for {name}: a period is positive seconds, not {seconds}")

    @property
    def keeps_everything(self) -> bool:
        """Whether nothing ever expires under this policy."""
        return self.default_s is None and all(s is None for s in self.cameras.values())


def migrate_ages(conn: sqlite3.Connection) -> None:
    """Give a gallery made before retention its created_ts column, filled from created_at (idempotent)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
    if "created_ts" not in have:
        conn.execute("ALTER TABLE items ADD COLUMN created_ts REAL")
    conn.execute(
        "UPDATE items SET created_ts = (julianday(created_at) - 2440587.5) * 86400.0 WHERE created_ts IS NULL"
    )
    conn.execute(f"CREATE INDEX IF NOT EXISTS items_age ON items({AGE})")


def _clauses(policy: RetentionPolicy, now: float) -> list[tuple[str, list[object]]]:
    """One WHERE clause per retention period (each served by an index), with its parameters."""
    clauses: list[tuple[str, list[object]]] = []
    for camera, seconds in sorted(policy.cameras.items()):
        if seconds is not None:
            clauses.append((f"camera = ? AND {AGE} < ?", [camera, now - seconds]))
    if policy.default_s is not None:
        named = sorted(policy.cameras)
        others = f"(camera IS NULL OR camera NOT IN ({','.join('?' * len(named))}))" if named else "1"
        clauses.append((f"{others} AND {AGE} < ?", [*named, now - policy.default_s]))
    return clauses


def expired(conn: sqlite3.Connection, policy: RetentionPolicy, now: float, limit: int) -> list[int]:
    """Up to `limit` ids of items past their retention at Unix time `now`, not on hold, oldest first."""
    found: list[tuple[float, int]] = []
    for where, params in _clauses(policy, now):
        sql = f"SELECT {AGE}, id FROM items WHERE {where} AND NOT {HELD_ITEM} ORDER BY {AGE}, id LIMIT ?"
        found += conn.execute(sql, [*params, limit]).fetchall()
    return [item_id for _, item_id in sorted(found)[:limit]]


def oldest(conn: sqlite3.Connection) -> tuple[int, float] | None:
    """(id, Unix time its retention runs from) of the oldest item, or None for an empty gallery."""
    row = conn.execute(f"SELECT id, {AGE} FROM items ORDER BY {AGE}, id LIMIT 1").fetchone()
    return (int(row[0]), float(row[1])) if row else None

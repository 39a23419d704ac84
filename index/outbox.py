"""Outboxes: durable queues in the gallery's SQLite record, written in the same transaction as the change.

One mechanism serves every consumer that must see each change exactly once, in order, across crashes:
a table of rows (seq, what to deliver, when it was queued), read oldest first by `Queue.take` and deleted
by `Queue.ack` only after the consumer's far side acknowledged them (index/drainer.py runs that loop).
A crash or a lost uplink replays rows, never loses them; consumers make replays harmless (the fleet
upserts by `site:local_id`, webhooks carry an idempotency key).

The fleet's outbox: once a gallery has a site id (set by the first service that runs with fleet settings),
every committed add or delete, by any process, also queues a row in table `outbox`.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index.records import Records

SITE_KEY = "site_id"  # in the gallery table: the site this gallery replicates as
SENT_KEY = "outbox_model"  # the model whose central collection the queued history is complete for
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _name(value: str) -> str:
    """A table or column name, checked: names are code constants, never user input, but SQL is strict."""
    if not _NAME.match(value):
        raise ValueError(f"not a plain SQL identifier: {value!r}")
    return value


class Queue:
    """One consumer's durable FIFO: rows of `columns` in `table`, optionally only those of one channel.

    The table has `seq INTEGER PRIMARY KEY AUTOINCREMENT`, the payload columns and `queued_ts REAL`; a
    channel (column, value) lets several consumers (one per webhook receiver) share one table.
    """

    def __init__(
        self, records: Records, table: str, columns: Sequence[str], channel: tuple[str, str] | None = None
    ) -> None:
        self.records, self.table = records, _name(table)
        self.columns = [_name(c) for c in columns]
        self.channel = (_name(channel[0]), channel[1]) if channel is not None else None
        self._where = f"WHERE {self.channel[0]} = ?" if self.channel else ""
        self._params: list[Any] = [self.channel[1]] if self.channel else []

    def put(self, conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Queue payload rows inside the caller's transaction (with this queue's channel, if any)."""
        names = [*self.columns, *([self.channel[0]] if self.channel else []), "queued_ts"]
        marks = ",".join("?" * len(names))
        now = time.time()
        values = [(*row, *self._params, now) for row in rows]
        conn.executemany(f"INSERT INTO {self.table} ({','.join(names)}) VALUES ({marks})", values)

    def take(self, limit: int) -> list[tuple[Any, ...]]:
        """The oldest `limit` queued rows, in order, as (seq, *columns)."""
        sql = f"SELECT seq, {','.join(self.columns)} FROM {self.table} {self._where} ORDER BY seq LIMIT ?"
        return [tuple(row) for row in self.records.conn().execute(sql, [*self._params, limit])]

    def ack(self, last_seq: int) -> None:
        """Drop every row up to and including last_seq: its consumer has them."""
        where = f"{self._where} AND" if self._where else "WHERE"
        with self.records.write() as conn:
            conn.execute(f"DELETE FROM {self.table} {where} seq <= ?", [*self._params, last_seq])

    def backlog(self) -> tuple[int, float | None]:
        """(rows pending, Unix time the oldest was queued or None)."""
        sql = f"SELECT COUNT(*), MIN(queued_ts) FROM {self.table} {self._where}"
        n, oldest = self.records.conn().execute(sql, self._params).fetchone()
        return int(n), oldest


def enqueue(conn: sqlite3.Connection, item_ids: Sequence[int], op: str) -> None:
    """Queue fleet changes inside the caller's transaction, when this gallery replicates to a fleet."""
    if conn.execute("SELECT 1 FROM gallery WHERE key = ?", (SITE_KEY,)).fetchone() is None:
        return
    now = time.time()
    conn.executemany(
        "INSERT INTO outbox (item_id, op, queued_ts) VALUES (?, ?, ?)", [(int(i), op, now) for i in item_ids]
    )


@dataclass(frozen=True)
class Change:
    """One queued fleet change."""

    seq: int
    item_id: int
    op: str  # upsert | delete | sweep (drop central rows of this site that the gallery no longer has)


class Outbox(Queue):
    """The fleet's queue: gallery changes waiting for the central collection."""

    def __init__(self, records: Records) -> None:
        super().__init__(records, "outbox", ("item_id", "op"))

    def enable(self, site_id: str, model_id: str) -> bool:
        """Replicate as `site_id`; for a new site or model (a reindex: a new collection), queue every item
        and a sweep -> whether it did."""
        with self.records.write() as conn:
            rows = conn.execute(
                "SELECT key, value FROM gallery WHERE key IN (?, ?)", (SITE_KEY, SENT_KEY)
            ).fetchall()
            if dict(rows) == {SITE_KEY: site_id, SENT_KEY: model_id}:
                return False
            self.records.set_settings(conn, **{SITE_KEY: site_id, SENT_KEY: model_id})
            now = time.time()
            conn.execute("INSERT INTO outbox (item_id, op, queued_ts) VALUES (0, 'sweep', ?)", (now,))
            conn.execute(
                "INSERT INTO outbox (item_id, op, queued_ts) SELECT id, 'upsert', ? FROM items ORDER BY id",
                (now,),
            )
        return True

    def changes(self, limit: int) -> list[Change]:
        """The oldest `limit` queued changes, in order."""
        return [Change(*row) for row in self.take(limit)]

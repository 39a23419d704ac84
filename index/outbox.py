"""The outbox: gallery changes waiting to reach the fleet, written in the same transaction as the change.

Once a gallery has a site id (set by the first service that runs with fleet settings), every committed add
or delete, by any process, also queues a row here; a replicator drains the rows in order and deletes them
only after Milvus acknowledged them, so a crash or a lost uplink replays them, never loses them. Replays
are harmless: the central collection upserts by `site:local_id`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.records import Records

SITE_KEY = "site_id"  # in the gallery table: the site this gallery replicates as
SENT_KEY = "outbox_model"  # the model whose central collection the queued history is complete for


def enqueue(conn: sqlite3.Connection, item_ids: Sequence[int], op: str) -> None:
    """Queue changes inside the caller's transaction, when this gallery replicates to a fleet."""
    if conn.execute("SELECT 1 FROM gallery WHERE key = ?", (SITE_KEY,)).fetchone() is None:
        return
    now = time.time()
    conn.executemany(
        "INSERT INTO outbox (item_id, op, queued_ts) VALUES (?, ?, ?)", [(int(i), op, now) for i in item_ids]
    )


@dataclass(frozen=True)
class Change:
    """One queued change."""

    seq: int
    item_id: int
    op: str  # upsert | delete | sweep (drop central rows of this site that the gallery no longer has)


class Outbox:
    """Reading and acknowledging queued changes of one gallery."""

    def __init__(self, records: Records) -> None:
        self.records = records

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

    def take(self, limit: int) -> list[Change]:
        """The oldest `limit` queued changes, in order."""
        sql = "SELECT seq, item_id, op FROM outbox ORDER BY seq LIMIT ?"
        return [Change(*row) for row in self.records.conn().execute(sql, (limit,))]

    def ack(self, last_seq: int) -> None:
        """Drop every change up to and including last_seq: Milvus has them."""
        with self.records.write() as conn:
            conn.execute("DELETE FROM outbox WHERE seq <= ?", (last_seq,))

    def backlog(self) -> tuple[int, float | None]:
        """(changes pending, Unix time the oldest was queued or None)."""
        n, oldest = self.records.conn().execute("SELECT COUNT(*), MIN(queued_ts) FROM outbox").fetchone()
        return int(n), oldest

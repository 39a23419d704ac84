"""Removing items from the record: the rows and everything derived from them, in one transaction.

Items, staged re-index embeddings, tracks left empty and (through `dependents`) rows of other packages
that point at the items (alerts) go together, and the fleet's 'delete' rows are queued in the same
transaction. Files are not touched here: the gallery unlinks those no row refers to after the commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from index.errors import HeldError, SetChangedError
from index.holds import held_among, holds_on
from index.outbox import enqueue
from index.rows import CHUNK
from index.tracks import drop_empty_tracks

Dependent = Callable[[sqlite3.Connection, list[int]], None]  # (transaction, ids being removed)


class OnHold(StrEnum):
    """What a removal does with items a legal hold covers."""

    REFUSE = "refuse"  # HeldError naming them, nothing removed (erasure, DELETE /gallery)
    SKIP = "skip"  # leave them, remove the rest (retention)


@dataclass(frozen=True)
class Removal:
    """What one removal took out."""

    ids: list[int] = field(default_factory=list)  # removed, ascending
    sha256s: dict[int, str] = field(default_factory=dict)  # removed id -> its image's digest
    files: set[str] = field(default_factory=set)  # files the removed rows named (some may be shared)
    held: list[int] = field(default_factory=list)  # skipped: on hold
    missing: list[int] = field(default_factory=list)  # asked for, no such row


def _rows(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    """id -> (sha256, image_path, frame_path, track_id) of those that exist."""
    found = {}
    for i in range(0, len(ids), CHUNK):
        part = [int(x) for x in ids[i : i + CHUNK]]
        marks = ",".join("?" * len(part))
        sql = f"SELECT id, sha256, image_path, frame_path, track_id FROM items WHERE id IN ({marks})"
        found.update({r[0]: tuple(r[1:]) for r in conn.execute(sql, part)})
    return found


def _check(rows: Mapping[int, tuple[str, ...]], expect: Mapping[int, str]) -> None:
    """SetChangedError unless every expected item is still there with the expected bytes."""
    gone = sorted(i for i, sha in expect.items() if i not in rows or rows[i][0] != sha)
    if gone:
        raise SetChangedError([], gone)


def remove_rows(
    conn: sqlite3.Connection,
    ids: Sequence[int],
    on_hold: OnHold,
    expect: Mapping[int, str] | None = None,
    dependents: Sequence[Dependent] = (),
) -> Removal:
    """Delete these items inside the caller's transaction -> what went.

    `expect` (id -> sha256): refuse with SetChangedError unless every one of them is still there with the
    same bytes, so an erasure removes exactly what it previewed.
    """
    wanted = sorted({int(i) for i in ids})
    rows = _rows(conn, wanted)
    if expect is not None:
        _check(rows, expect)
    held = sorted(held_among(conn, list(rows)))
    if held and on_hold == OnHold.REFUSE:
        raise HeldError(held, holds_on(conn, held))
    gone = [i for i in wanted if i in rows and i not in set(held)]
    for i in range(0, len(gone), CHUNK):
        part = gone[i : i + CHUNK]
        marks = ",".join("?" * len(part))
        conn.execute(f"DELETE FROM items WHERE id IN ({marks})", part)
        conn.execute(f"DELETE FROM reindex_staging WHERE id IN ({marks})", part)
    enqueue(conn, gone, "delete")
    drop_empty_tracks(conn, [t for i in gone if (t := rows[i][3]) is not None])
    for dependent in dependents:
        dependent(conn, gone)
    files = {p for i in gone for p in rows[i][1:3] if p is not None}
    missing = [i for i in wanted if i not in rows]
    return Removal(gone, {i: rows[i][0] for i in gone}, files, held, missing)


def referenced(conn: sqlite3.Connection, paths: Sequence[str]) -> set[str]:
    """Which of these files some row still names (as its image or its evidence frame)."""
    found: set[str] = set()
    for i in range(0, len(paths), CHUNK):
        part = list(paths[i : i + CHUNK])
        marks = ",".join("?" * len(part))
        sql = (
            f"SELECT image_path FROM items WHERE image_path IN ({marks})"
            f" UNION SELECT frame_path FROM items WHERE frame_path IN ({marks})"
        )
        found.update(r[0] for r in conn.execute(sql, part + part))
    return found

"""One SQLite connection per thread to one database file, all closed together (the gallery's record and
the audit trail both keep their files this way)."""

from __future__ import annotations

import sqlite3
import threading


class ThreadConnections:
    """Each thread's own connection (WAL, synchronous=FULL: a commit survives a power cut), made lazily."""

    def __init__(self, target: str, uri: bool = False, pragmas: tuple[str, ...] = ()) -> None:
        self.target, self.uri, self.pragmas = target, uri, pragmas
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._mutex = threading.Lock()

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened the first time it asks."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.target, uri=self.uri, timeout=30, isolation_level=None, check_same_thread=False
            )
            for pragma in ("journal_mode=WAL", "synchronous=FULL", *self.pragmas):
                conn.execute(f"PRAGMA {pragma}")
            self._local.conn = conn
            with self._mutex:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection; a later `get` opens a new one."""
        with self._mutex:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

"""Camera streams the service ingests itself, kept in the gallery's SQLite record so they restart with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from index.records import Records

STREAM_SCHEMA = """
CREATE TABLE IF NOT EXISTS camera_streams (
    name TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    fps REAL,                              -- NULL: the service's default
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StreamConfig:
    """One camera: its name (also the camera name its crops carry), where to read it, at what rate."""

    name: str
    url: str
    fps: float | None = None
    enabled: bool = True
    created_at: datetime | None = None


class Streams:
    """The configured camera streams of one gallery."""

    def __init__(self, records: Records) -> None:
        self.records = records
        records.conn().executescript(STREAM_SCHEMA)

    def add(self, config: StreamConfig) -> StreamConfig:
        """Record a new camera; KeyError when the name is taken."""
        created = datetime.now(UTC)
        with self.records.write() as conn:
            if conn.execute("SELECT 1 FROM camera_streams WHERE name = ?", (config.name,)).fetchone():
                raise KeyError(config.name)
            conn.execute(
                "INSERT INTO camera_streams (name, url, fps, enabled, created_at) VALUES (?, ?, ?, ?, ?)",
                (config.name, config.url, config.fps, int(config.enabled), created.isoformat()),
            )
        return StreamConfig(config.name, config.url, config.fps, config.enabled, created)

    def remove(self, name: str) -> bool:
        """Forget a camera (its crops stay in the gallery); False when there was none."""
        with self.records.write() as conn:
            return conn.execute("DELETE FROM camera_streams WHERE name = ?", (name,)).rowcount > 0

    def all(self) -> list[StreamConfig]:
        """Every configured camera, by name."""
        rows = self.records.conn().execute(
            "SELECT name, url, fps, enabled, created_at FROM camera_streams ORDER BY name"
        )
        return [StreamConfig(n, u, f, bool(e), datetime.fromisoformat(c)) for n, u, f, e, c in rows]

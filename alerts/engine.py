"""The alert engine: follows the gallery's new items and scores each batch against every watchlist.

It reads items past a cursor kept in the gallery table, so it sees crops from uploads, cameras and other
processes alike, and a crash between a gallery commit and its scoring only delays the alerts: the alerts,
their delivery rows and the advanced cursor commit in one transaction. The gallery's listener wakes it at
once after each addition; a poll catches the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alerts.calibration import Calibration, sensitivity_to_q
from alerts.delivery import Deliveries
from alerts.schema import CURSOR_KEY, ensure
from alerts.scoring import Candidate, Crop, candidates, eligible, score
from alerts.store import AlertStore
from alerts.watchlists import Watchlist, WatchlistSpec, WatchlistStore
from index.records import Records
from index.rows import vectors_from_blobs
from index.worker import Worker

log = logging.getLogger(__name__)
ITEMS_SQL = (
    "SELECT id, camera, captured_at, captured_ts, track_id, frame_path IS NOT NULL, embedding"
    " FROM items WHERE id > ? ORDER BY id LIMIT ?"
)


@dataclass(frozen=True)
class EngineOptions:
    """Calibration and pacing (see alerts/calibration.py)."""

    floor: float = 0.1  # the cosine every alert must beat, whatever its background
    background_size: int = 2000  # the most recent crops a watchlist's threshold is drawn from
    min_background: int = 50  # below this, the floor alone decides
    refresh_every: int = 200  # new crops between refreshes of the background
    batch: int = 512  # crops scored per step
    poll_s: float = 1.0  # how often to look for items other processes added


@dataclass
class _State:
    """What the scoring of one batch uses: the active watchlists, stacked, and their calibration."""

    watchlists: list[Watchlist]
    matrix: np.ndarray  # (W, D)
    calibration: Calibration


class AlertEngine(Worker):
    """Watchlists of one gallery, the scoring of its new crops and the resulting alerts."""

    def __init__(
        self, records: Records, model_id: str, dim: int, options: EngineOptions, deliveries: Deliveries
    ) -> None:
        ensure(records)
        self.records, self.model_id, self.dim, self.options = records, model_id, dim, options
        self.deliveries = deliveries
        self.watchlists = WatchlistStore(records, dim)
        self.store = AlertStore(records)
        self.listeners: list[Callable[[list[int]], None]] = []  # get new alert ids after each commit
        self.scored = 0  # crops scored since start
        self.last_error: str | None = None
        self._state: _State | None = None
        self._since_refresh = 0
        self._mutex = threading.Lock()
        super().__init__("alerts-engine")
        self._start_cursor()

    def _start_cursor(self) -> None:
        """A gallery meeting alerts for the first time: its existing crops are history, not news."""
        with self.records.write() as conn:
            if self.records.setting(CURSOR_KEY) is None:
                last = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0])
                self.records.set_settings(conn, **{CURSOR_KEY: str(last)})

    # -- watchlists ---------------------------------------------------------------------------

    def add_watchlist(self, spec: WatchlistSpec) -> Watchlist:
        """Store a watchlist; it scores crops added from now on."""
        watchlist = self.watchlists.add(spec)
        self.changed()
        return watchlist

    def delete_watchlist(self, watchlist_id: int) -> bool:
        """Remove a watchlist; False when there was none."""
        gone = self.watchlists.delete(watchlist_id)
        self.changed()
        return gone

    def changed(self) -> None:
        """Watchlists changed: rebuild the matrix and its calibration before the next batch."""
        with self._mutex:
            self._state = None

    # -- the worker ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self.stopping:
            try:
                while self.process_once() and not self.stopping:
                    pass
                self.last_error = None
            except Exception as exc:  # a locked or closed database: keep the cursor, try again later
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("alert scoring failed")
            self.pause(self.options.poll_s)

    # -- scoring ------------------------------------------------------------------------------

    def process_once(self) -> int:
        """Score the next batch of new crops, record their alerts and advance the cursor -> crops scored."""
        with self._mutex:
            cursor = int(self.records.setting(CURSOR_KEY) or 0)
            rows = self.records.conn().execute(ITEMS_SQL, (cursor, self.options.batch)).fetchall()
            if not rows:
                return 0
            crops = [Crop(int(r[0]), r[4], r[1], r[2], r[3], bool(r[5])) for r in rows]
            vectors = vectors_from_blobs([r[6] for r in rows], self.dim)  # (N, D)
            state = self._current(cursor)
            found: list[Candidate] = []
            if state.watchlists:
                scores = score(vectors, state.matrix)  # (N, W): the one matrix product
                found = candidates(
                    scores, state.calibration.thresholds, eligible(crops, state.watchlists), crops
                )
            new_ids, sinks = self._record(found, crops, state)
            self._since_refresh += len(crops)
            self.scored += len(crops)
        self.deliveries.wake(sinks)
        if new_ids:
            for listener in self.listeners:
                listener(new_ids)
        return len(crops)

    def _record(self, found: list[Candidate], crops: list[Crop], state: _State) -> tuple[list[int], set[str]]:
        """Insert the alerts (one per watchlist and subject, ever), queue them, move the cursor."""
        new_ids: list[int] = []
        sinks: set[str] = set()
        thresholds = state.calibration.thresholds
        with self.records.write() as conn:
            for c in found:
                watchlist, crop = state.watchlists[c.column], crops[c.row]
                scores = (
                    c.score,
                    state.calibration.share_below(c.column, c.score),
                    float(thresholds[c.column]),
                )
                alert_id = self.store.insert(conn, watchlist, crop, scores)
                if alert_id is not None:
                    targets = self.deliveries.sinks_for(watchlist)
                    self.deliveries.queue(conn, alert_id, targets)
                    new_ids.append(alert_id)
                    sinks.update(targets)
            self.records.set_settings(conn, **{CURSOR_KEY: str(crops[-1].item_id)})
        return new_ids, sinks

    def _current(self, cursor: int) -> _State:
        """The scoring state, rebuilt when watchlists changed or the background is due a refresh."""
        state, o = self._state, self.options
        small = state is not None and not state.calibration.calibrated and self._since_refresh > 0
        if state is None or small or self._since_refresh >= o.refresh_every:
            watchlists = [w for w in self.watchlists.all() if w.model_id == self.model_id]
            matrix = (
                np.stack([w.embedding for w in watchlists])
                if watchlists
                else np.zeros((0, self.dim), np.float32)
            )
            qs = np.array([sensitivity_to_q(w.sensitivity) for w in watchlists])
            subjects, background = self.background(cursor)
            found = self.store.alerted(subjects, [w.id for w in watchlists])
            calibration = Calibration.build(background, matrix, qs, o.floor, o.min_background, found)
            state = self._state = _State(watchlists, matrix, calibration)
            self._since_refresh = 0
        return state

    def background(self, cursor: int) -> tuple[list[str], np.ndarray]:
        """The most recent crops already scored: their subjects and vectors (M, D), the sample the
        thresholds are drawn from."""
        sql = "SELECT id, track_id, embedding FROM items WHERE id <= ? ORDER BY id DESC LIMIT ?"
        rows = self.records.conn().execute(sql, (cursor, self.options.background_size)).fetchall()
        subjects = [Crop(int(r[0]), r[1], None, None, None, False).subject for r in rows]
        return subjects, vectors_from_blobs([r[2] for r in rows], self.dim)

    def status(self) -> dict[str, object]:
        """For /health: watchlists, alerts, crops scored, how far behind the gallery the cursor is."""
        cursor = int(self.records.setting(CURSOR_KEY) or 0)
        newest = int(self.records.conn().execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0])
        state = self._state
        return {
            "watchlists": self.watchlists.count(),
            "alerts": self.store.count(),
            "scored": self.scored,
            "behind": max(0, newest - cursor),
            "background": len(state.calibration.sorted_scores) if state is not None else None,
            "last_error": self.last_error,
            "deliveries": self.deliveries.status(),
        }

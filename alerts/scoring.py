"""Scoring new crops against every watchlist at once: one matrix product, then the gates, then one
candidate per (watchlist, track) -- a track alerts once per watchlist, an upload without a track per item."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alerts.watchlists import Watchlist


@dataclass(frozen=True)
class Crop:
    """A new gallery crop, as scoring and the alert record need it."""

    item_id: int
    track_id: int | None
    camera: str | None
    captured_at: str | None  # ISO 8601 as stored
    captured_ts: float | None
    has_frame: bool

    @property
    def subject(self) -> str:
        """What an alert is about: the crop's track, or the crop itself when it has none."""
        return f"track:{self.track_id}" if self.track_id is not None else f"item:{self.item_id}"


@dataclass(frozen=True)
class Candidate:
    """A crop that passed a watchlist's gates: the best of its subject in this batch."""

    row: int  # index into the batch's crops
    column: int  # index into the watchlists
    score: float


def score(crops: np.ndarray, watchlists: np.ndarray) -> np.ndarray:
    """Cosines of crops (N, D) with watchlists (W, D) -> (N, W), in one matrix product."""
    return crops @ watchlists.T  # (N, D) x (D, W)


def eligible(crops: list[Crop], watchlists: list[Watchlist]) -> np.ndarray:
    """(N, W) bool: the crop is newer than the watchlist and from one of its cameras."""
    ids = np.array([c.item_id for c in crops], np.int64)
    since = np.array([w.since_item for w in watchlists], np.int64)
    mask = ids[:, None] > since[None, :]
    for j, w in enumerate(watchlists):
        if w.cameras is not None:
            allowed = set(w.cameras)
            mask[:, j] &= np.array([c.camera in allowed for c in crops], bool)
    return mask


def candidates(
    scores: np.ndarray, thresholds: np.ndarray, mask: np.ndarray, crops: list[Crop]
) -> list[Candidate]:
    """Crops scoring above their watchlist's threshold, the best one per (subject, watchlist)."""
    passing = mask & (scores > thresholds[None, :])
    best: dict[tuple[str, int], Candidate] = {}
    for row, column in zip(*np.nonzero(passing), strict=True):
        key = (crops[row].subject, int(column))
        value = float(scores[row, column])
        if key not in best or value > best[key].score:
            best[key] = Candidate(int(row), int(column), value)
    return sorted(best.values(), key=lambda c: (c.column, c.row))

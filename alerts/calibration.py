"""Calibrated thresholds: a crop alerts when it is in the top q of its watchlist's background, and above
a floor.

A raw cosine means different things for different queries (a long description scores every crop higher
than a short one) and different models. So each watchlist's scores over a background sample (the
gallery's most recent crops, refreshed as crops arrive, less the people it already alerted on, who are not
background for it) set its threshold: the (1 - q) quantile of them.
A crop alerts only when it outscores all but a share q of the background AND its cosine is at least the
floor (a background of unrelated people still has a top q). Sensitivity s in [0, 1] maps to q on a log
scale, from Q_MIN (s = 0) to Q_MAX (s = 1). Until the background holds `min_background` crops, the floor
alone decides and alerts carry no calibrated value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Q_MIN, Q_MAX = 0.001, 0.2


def sensitivity_to_q(sensitivity: float) -> float:
    """The share of the background a crop must outscore all but: Q_MIN at 0, Q_MAX at 1 (log scale)."""
    if not 0.0 <= sensitivity <= 1.0:
        raise ValueError(f"sensitivity lies in [0, 1], not {sensitivity}")
    return Q_MIN * (Q_MAX / Q_MIN) ** sensitivity


@dataclass
class Calibration:
    """Sorted background scores per watchlist, and the thresholds they give."""

    sorted_scores: np.ndarray  # (M, W) ascending per column
    thresholds: np.ndarray  # (W,) cosine each watchlist's crops must beat (the floor included)
    floor: float
    min_background: int

    @classmethod
    def build(
        cls,
        background: np.ndarray,
        watchlists: np.ndarray,
        qs: np.ndarray,
        floor: float,
        min_background: int,
        found: np.ndarray | None = None,
    ) -> Calibration:
        """Background (M, D) and watchlist (W, D) unit vectors, each watchlist's q (W,); `found` (M, W)
        marks background crops of subjects a watchlist already alerted on: they score lowest for it."""
        scores = background @ watchlists.T  # (M, W)
        if found is not None:
            scores = np.where(found, -np.inf, scores)
        scores = np.sort(scores, axis=0)
        return cls(scores, thresholds_of(scores, qs, floor, min_background), floor, min_background)

    @property
    def calibrated(self) -> bool:
        """Whether the background is big enough for the quantile gate."""
        return len(self.sorted_scores) >= self.min_background

    def share_below(self, column: int, score: float) -> float | None:
        """The share of the background this score beats for one watchlist, or None uncalibrated."""
        if not self.calibrated:
            return None
        below = np.searchsorted(self.sorted_scores[:, column], score, side="left")
        return float(below) / len(self.sorted_scores)


def thresholds_of(sorted_scores: np.ndarray, qs: np.ndarray, floor: float, min_background: int) -> np.ndarray:
    """Per watchlist: max(floor, the background score that only a share q of the background exceeds)."""
    m, w = sorted_scores.shape
    if m < min_background or w == 0:
        return np.full(w, floor, np.float32)
    # the k-th smallest, k = ceil((1 - q) M) - 1: at most q M background scores lie strictly above it
    k = np.clip(np.array([math.ceil((1 - q) * m) - 1 for q in qs], np.int64), 0, m - 1)
    return np.maximum(sorted_scores[k, np.arange(w)], floor).astype(np.float32)

"""Which few crops represent a track: the best of each part of its life, from a bounded candidate set.

A track seen for an hour must not keep an hour of frames. Candidates live in time bins, the best one
per bin; when there are more bins than `capacity`, the bins double in width and merge, keeping the
better of each pair. At the end the track's life is cut into `k` equal spans and the best candidate of
each span is chosen, so the crops show the person at different moments (other poses, other light).

A candidate's crop (its pixels and evidence JPEG) is built only once its bin is closed, when the track
moves on to the next bin: a better detection later in the same bin replaces it unbuilt, so a track
encodes about one evidence frame per bin instead of one per frame, and holds at most one frame unbuilt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cameras.types import Crop


@dataclass
class Candidate:
    """A crop worth keeping for now, when it was seen (seconds into the source), and how to build it."""

    pts_s: float
    quality: float
    make: Callable[[], Crop] | None
    crop: Crop | None = None

    def built(self) -> Crop:
        """The crop, built the first time it is asked for (then the frame it came from is let go)."""
        if self.crop is None:
            assert self.make is not None
            self.crop, self.make = self.make(), None
        return self.crop


class CropChooser:
    """Keeps at most `capacity` candidates of one track, spread over time; picks `k` of them at the end."""

    def __init__(self, k: int = 3, capacity: int = 32, bin_s: float = 0.5, min_quality: float = 0.05) -> None:
        if k < 1 or capacity < k:
            raise ValueError(f"crops per track must be >= 1 and <= capacity ({capacity}), got {k}")
        self.k, self.capacity, self.bin_s, self.min_quality = k, capacity, bin_s, min_quality
        self._bins: dict[int, Candidate] = {}
        self._open_key: int | None = None  # the bin being filled: its candidate is not built yet

    def offer(self, pts_s: float, quality: float, make: Callable[[], Crop]) -> None:
        """Consider one detection; `make` builds its Crop (pixels, frame JPEG) only if its bin keeps it."""
        if quality < self.min_quality:
            return
        key = int(pts_s // self.bin_s)
        if key != self._open_key:
            self._close_open_bin()
            self._open_key = key
        held = self._bins.get(key)
        if held is not None and held.quality >= quality:
            return
        self._bins[key] = Candidate(pts_s, quality, make)
        if len(self._bins) > self.capacity:
            self._coarsen()

    def _close_open_bin(self) -> None:
        """Build the candidate of the bin being filled (its frame is released once the crop is made)."""
        held = self._bins.get(self._open_key) if self._open_key is not None else None
        if held is not None:
            held.built()

    def _coarsen(self) -> None:
        """Double the bin width, keeping the better candidate of each merged pair (all of them built)."""
        self._close_open_bin()
        self._open_key = None
        self.bin_s *= 2
        merged: dict[int, Candidate] = {}
        for candidate in self._bins.values():
            key = int(candidate.pts_s // self.bin_s)
            if key not in merged or merged[key].quality < candidate.quality:
                merged[key] = candidate
        self._bins = merged

    def __len__(self) -> int:
        return len(self._bins)

    def choose(self) -> list[Crop]:
        """Up to k crops in time order: the best of each of k equal spans, then the best of the rest."""
        held = sorted(self._bins.values(), key=lambda c: c.pts_s)
        if len(held) <= self.k:
            return [c.built() for c in held]
        start, end = held[0].pts_s, held[-1].pts_s
        width = (end - start) / self.k or 1.0
        spans: dict[int, Candidate] = {}
        for candidate in held:
            span = min(self.k - 1, int((candidate.pts_s - start) / width))
            if span not in spans or spans[span].quality < candidate.quality:
                spans[span] = candidate
        chosen = set(map(id, spans.values()))
        rest = sorted((c for c in held if id(c) not in chosen), key=lambda c: -c.quality)
        picked = [*spans.values(), *rest[: self.k - len(spans)]]
        return [c.built() for c in sorted(picked, key=lambda c: c.pts_s)]

"""Erasure: choose items (by id, by track, or every item like an example above a score), preview them,
and remove exactly the previewed set, with a receipt; then scrub the gallery, so no copy of the erased
vectors stays in the FAISS snapshot or SQLite's log.

Similarity is scored exactly over every stored embedding (SQLite, the record), never through the
approximate index: an erasure must find everyone above the score, not the top k. An erasure recomputes
the selection and refuses (SetChangedError) when it differs from its preview; the removal itself checks
the same ids and digests inside its transaction, so a change racing it is refused too.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from index.errors import SetChangedError, UnknownIdsError
from index.holds import holds_on
from index.receipts import Receipt, ReceiptStore, StoredPreview
from index.removal import OnHold
from index.types import GalleryItem

if TYPE_CHECKING:
    from index.gallery import Gallery


class TooManyMatchesError(ValueError):
    """A selection larger than the configured cap (a min_score set too low, most likely)."""

    def __init__(self, count: int, cap: int) -> None:
        self.count, self.cap = count, cap
        super().__init__(f"{count} items match, more than the {cap} one erasure may remove; raise min_score")


class PreviewNotFoundError(LookupError):
    """No unexpired preview has this token."""


@dataclass(frozen=True)
class Selector:
    """What to erase: these items, every crop of these tracks, and every item scoring at least
    `min_score` against `query` (a unit float32 [D] example); `example` says how the example was named."""

    items: tuple[int, ...] = ()
    tracks: tuple[int, ...] = ()
    query: np.ndarray | None = None
    min_score: float | None = None
    example: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse an empty selection, and a query without a score (or a score without a query)."""
        if not self.items and not self.tracks and self.query is None:
            raise ValueError("an erasure needs items, tracks or an example")
        if (self.query is None) != (self.min_score is None):
            raise ValueError("an example needs a min_score, and a min_score an example")

    def described(self) -> dict[str, Any]:
        """The selection as JSON (without the query vector), for previews and receipts."""
        return {
            "items": list(self.items), "tracks": list(self.tracks),
            "min_score": self.min_score, "example": self.example,
        }  # fmt: skip


@dataclass(frozen=True)
class Match:
    """One item a selection takes, with its score against the example (None when chosen by id)."""

    item: GalleryItem
    score: float | None


def digest(items: dict[int, str]) -> str:
    """The hash of a set of items: sha256 over 'id:sha256' lines in id order."""
    lines = "".join(f"{i}:{sha}\n" for i, sha in sorted(items.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def _similar(gallery: Gallery, query: np.ndarray, min_score: float) -> dict[int, float]:
    """id -> score of every stored item scoring at least min_score (exact, over the record)."""
    found: dict[int, float] = {}
    for ids, vectors in gallery.records.embeddings(gallery.dim):
        scores = vectors @ query  # (n,)
        keep = scores >= min_score
        found.update(zip(ids[keep].tolist(), scores[keep].tolist(), strict=True))
    return found


def select(gallery: Gallery, selector: Selector, cap: int, strict: bool = True) -> list[Match]:
    """The items a selector takes, ascending ids; `strict` raises UnknownIdsError for ids that name
    nothing (a re-selection for an erasure lets them drop out instead: the set changed)."""
    chosen: dict[int, float | None] = dict.fromkeys(selector.items)
    for track_id in selector.tracks:
        crops = gallery.tracks.items(track_id)
        if not crops and strict:
            raise UnknownIdsError("tracks", [track_id])
        chosen.update({c.id: None for c in crops if c.id not in chosen})
    if selector.query is not None and selector.min_score is not None:
        for item_id, score in _similar(gallery, selector.query, selector.min_score).items():
            chosen[item_id] = score
    if len(chosen) > cap:
        raise TooManyMatchesError(len(chosen), cap)
    rows = gallery.records.items(sorted(chosen), gallery.dim)
    if strict and (missing := sorted(i for i in selector.items if i not in rows)):
        raise UnknownIdsError("items", missing)
    return [Match(rows[i][0], chosen[i]) for i in sorted(rows)]


def holding(gallery: Gallery, matches: Sequence[Match]) -> dict[int, list[int]]:
    """Active hold id -> the matches it covers (an erasure of them is refused until it is released)."""
    return holds_on(gallery.records.conn(), [m.item.id for m in matches])


def preview(
    gallery: Gallery, store: ReceiptStore, selector: Selector, cap: int, ttl_s: float
) -> tuple[StoredPreview, list[Match]]:
    """Select and store the set an erasure would remove -> the stored preview (its token) and matches;
    a selection of nothing is not stored (its token is empty: there is nothing to erase)."""
    matches = select(gallery, selector, cap)
    items = {m.item.id: m.item.sha256 for m in matches}
    if not items:
        return StoredPreview("", selector.described(), None, {}, digest(items), datetime.now(UTC)), []
    stored = store.save_preview(selector.described(), selector.query, items, digest(items), ttl_s)
    return stored, matches


def _reselect(gallery: Gallery, stored: StoredPreview, cap: int) -> dict[int, str]:
    """The previewed selection as it stands now: id -> sha256."""
    s = stored.selector
    selector = Selector(tuple(s["items"]), tuple(s["tracks"]), stored.query, s["min_score"], s["example"])
    return {m.item.id: m.item.sha256 for m in select(gallery, selector, cap, strict=False)}


def erase(gallery: Gallery, store: ReceiptStore, token: str, by: str, cap: int) -> Receipt:
    """Remove exactly the items a preview listed, with their receipt, in one transaction.

    PreviewNotFoundError for an unknown or expired token; SetChangedError when the selection no longer
    gives the previewed set; HeldError naming previewed items a legal hold now covers.
    """
    stored = store.preview(token)
    if stored is None:
        raise PreviewNotFoundError(f"token: no erasure preview {token!r} (unknown, used or expired)")
    now = _reselect(gallery, stored, cap)
    if now != stored.items:
        added = sorted(set(now) - set(stored.items))
        gone = sorted(i for i, sha in stored.items.items() if now.get(i) != sha)
        raise SetChangedError(added, gone)
    listed = sorted(stored.items.items())
    receipt = Receipt(uuid.uuid4().hex, datetime.now(UTC), by, stored.selector, listed, stored.digest)
    gallery.remove(
        list(stored.items),
        OnHold.REFUSE,
        expect=stored.items,
        also=lambda conn, _ids: store.record(conn, receipt, token),
    )
    gallery.scrub()
    return receipt

"""The parts of one gallery addition: which images are new, their files, near duplicates, the results."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from index.images import ImageStore, image_relpath, sniff_extension
from index.records import Records
from index.rows import crop_values, meta_values
from index.types import AddResult, ItemMeta

NearRef = tuple[str, int] | None  # ("id", stored id) or ("new", earlier batch position)


def unstored(records: Records, shas: Sequence[str]) -> tuple[dict[str, int], list[int]]:
    """(digest -> id of those stored, batch positions of the first copy of each digest not stored)."""
    existing = records.find_shas(shas)
    first: dict[str, int] = {}
    for i, sha in enumerate(shas):
        if sha not in existing:
            first.setdefault(sha, i)
    return existing, list(first.values())


def write_files(
    store: ImageStore,
    images: Sequence[bytes],
    shas: Sequence[str],
    metas: Sequence[ItemMeta],
    positions: Sequence[int],
    paths: dict[int, str],
) -> None:
    """Check the metadata of, name and durably write the images at `positions` (names go to `paths`)."""
    for i in positions:
        meta_values(metas[i])  # bad metadata fails here, before any file is written
        crop_values(metas[i])
        paths[i] = image_relpath(shas[i], sniff_extension(images[i]))
    store.write([(paths[i], images[i]) for i in positions])


def write_frames(
    store: ImageStore, frames: Sequence[bytes | None], positions: Sequence[int], paths: dict[int, str]
) -> None:
    """Name and durably write the evidence frames at `positions` (content-addressed, like the images)."""
    for i in positions:
        frame = frames[i]
        if frame is not None and i not in paths:
            paths[i] = image_relpath(hashlib.sha256(frame).hexdigest(), sniff_extension(frame))
    store.write([(paths[i], frame) for i in positions if (frame := frames[i]) is not None])


def near_duplicates(
    vectors: np.ndarray, threshold: float, scores: np.ndarray, ids: np.ndarray
) -> list[NearRef]:
    """Per new vector: ("id", stored id) or ("new", earlier batch position) at cosine >= threshold."""
    out: list[NearRef] = [None] * len(vectors)
    best = np.where((ids >= 0) & (scores >= threshold), scores, -np.inf)
    for hit in np.flatnonzero(np.isfinite(best)):
        out[hit] = ("id", int(ids[hit]))
    sims = vectors @ vectors.T  # (N, N)
    for j in range(1, len(vectors)):
        i = int(np.argmax(sims[j, :j]))  # the most similar earlier vector
        if sims[j, i] >= threshold and sims[j, i] > best[j]:
            out[j] = ("new", i)
    return out


def add_results(
    shas: Sequence[str], existing: dict[str, int], new: Sequence[int], ids: Sequence[int], near: list[NearRef]
) -> list[AddResult]:
    """One result per image: its id, and whether it was a duplicate or near another item."""
    first = {shas[i]: i for i in new}
    by_sha = existing | {shas[i]: item_id for i, item_id in zip(new, ids, strict=True)}
    near_of = {i: ids[ref[1]] if ref[0] == "new" else ref[1] for i, ref in zip(new, near, strict=True) if ref}
    return [
        AddResult(by_sha[sha], sha, duplicate=first.get(sha) != i, near_duplicate_of=near_of.get(i))
        for i, sha in enumerate(shas)
    ]

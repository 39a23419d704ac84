"""Text-to-image retrieval metrics (R@1/5/10, mAP, mINP) and evaluating encoders on a dataset.

The protocol of the text-based person search literature: every caption of the split is a query, every
image of the split is in the gallery, and a gallery image is relevant to a query when it shows the same
person id. R@K: a relevant image is in the top K. AP: un-interpolated average precision over the whole
ranked gallery. INP: (number of relevant images) / (1-based rank of the last relevant one). All in
percent, averaged over queries. Ties in similarity are ranked in gallery order (a stable sort), so the
result is deterministic; queries without any relevant image are left out and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

from training.data.types import PersonDataset

RANKS = (1, 5, 10)
QUERY_CHUNK = 256  # queries scored at a time: keeps (chunk x gallery) work arrays small


def _per_query(
    similarity: np.ndarray, query_ids: np.ndarray, gallery_ids: np.ndarray
) -> dict[str, np.ndarray]:
    """For each query: 0-based rank of the first relevant image, AP, INP, and whether any is relevant."""
    if not np.all(np.isfinite(similarity)):
        raise ValueError("similarity holds NaN or infinite values")
    order = np.argsort(-similarity, axis=1, kind="stable")  # (Q, G), best first, ties in gallery order
    matches = gallery_ids[order] == query_ids[:, None]  # (Q, G)
    n_relevant = matches.sum(axis=1)  # (Q,)
    hits_so_far = np.cumsum(matches, axis=1, dtype=np.int32)  # (Q, G)
    rank = np.arange(1, matches.shape[1] + 1, dtype=np.float64)  # (G,)
    precision_sum = np.where(matches, hits_so_far / rank, 0.0).sum(axis=1)  # (Q,)
    found = n_relevant > 0
    safe = np.maximum(n_relevant, 1)
    last = matches.shape[1] - np.argmax(matches[:, ::-1], axis=1)  # 1-based rank of the last relevant
    return {
        "first": np.argmax(matches, axis=1),
        "ap": precision_sum / safe,
        "inp": n_relevant / last,
        "found": found,
    }


def _summarise(parts: dict[str, np.ndarray]) -> dict[str, Any]:
    """Average the per-query values of the queries that have a relevant image, in percent."""
    found = parts["found"]
    n = int(found.sum())
    if n == 0:
        raise ValueError("no query has a relevant gallery image: query and gallery ids never match")
    out: dict[str, Any] = {f"R{k}": 100.0 * float(np.mean(parts["first"][found] < k)) for k in RANKS}
    out["mAP"] = 100.0 * float(np.mean(parts["ap"][found]))
    out["mINP"] = 100.0 * float(np.mean(parts["inp"][found]))
    out["queries_without_match"] = int(len(found) - n)
    return out


def retrieval_metrics(
    similarity: np.ndarray, query_ids: Sequence[int], gallery_ids: Sequence[int]
) -> dict[str, Any]:
    """R1, R5, R10, mAP, mINP in percent from a [Q, G] similarity matrix and the ids of both sides."""
    similarity = np.asarray(similarity)
    qids, gids = np.asarray(query_ids), np.asarray(gallery_ids)
    if similarity.ndim != 2 or similarity.shape != (len(qids), len(gids)):
        raise ValueError(
            f"similarity is {similarity.shape}, expected ({len(qids)}, {len(gids)}) for the ids given"
        )
    chunks = [
        _per_query(similarity[i : i + QUERY_CHUNK], qids[i : i + QUERY_CHUNK], gids)
        for i in range(0, len(qids), QUERY_CHUNK)
    ]
    if not chunks:
        raise ValueError("no queries")
    return _summarise({key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]})


def _unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (encoders already do this; evaluation should not depend on it)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _load_rgb(path: Any) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def encode_gallery(
    encode_images: Callable[[list[Image.Image]], np.ndarray], dataset: PersonDataset, batch_size: int
) -> np.ndarray:
    """Unit embeddings [G, D] of every image, reading the files one batch at a time."""
    chunks = []
    for i in range(0, len(dataset.items), batch_size):
        images = [_load_rgb(item.path) for item in dataset.items[i : i + batch_size]]
        chunks.append(_unit(encode_images(images)))
    return np.concatenate(chunks)


def evaluate(
    encode_images: Callable[[list[Image.Image]], np.ndarray],
    encode_texts: Callable[[list[str]], np.ndarray],
    dataset: PersonDataset,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Every caption against every image of `dataset`: the metrics plus the query/gallery/identity counts."""
    if not dataset.items:
        raise ValueError(f"dataset {dataset.name} has no images to evaluate on")
    gallery = encode_gallery(encode_images, dataset, batch_size)  # (G, D)
    gallery_ids = np.array([item.person_id for item in dataset.items])
    captions = [(text, item.person_id) for item in dataset.items for text in item.captions]
    if not captions:
        raise ValueError(f"dataset {dataset.name} has no captions to query with")
    parts: list[dict[str, np.ndarray]] = []
    for i in range(0, len(captions), max(batch_size, 1)):
        batch = captions[i : i + batch_size]
        queries = _unit(encode_texts([text for text, _ in batch]))  # (B, D)
        parts.append(_per_query(queries @ gallery.T, np.array([pid for _, pid in batch]), gallery_ids))
    metrics = _summarise({key: np.concatenate([p[key] for p in parts]) for key in parts[0]})
    metrics.update(queries=len(captions), gallery=len(dataset.items), identities=len(dataset.person_ids()))
    return metrics

"""FAISS factory strings: training needs, per-call search parameters, defaults by gallery size."""

from __future__ import annotations

import re
from typing import Any

import faiss

SEARCH_KEYS = ("nprobe", "efSearch")  # per-call knobs; each applies to the structures that have it
DEFAULT_EF_SEARCH = 64  # FAISS's 16 loses too much recall; unset nprobe probes an eighth of the lists
MAX_FILTERED_EF = 4096  # the widest beam a filtered HNSW search gets (~16 ms at 1M on one core)


def make_index(dim: int, factory: str) -> faiss.Index:
    """The bare inner-product index a factory string describes, with a message naming a bad string."""
    if "IDMap" in factory:
        raise ValueError(
            f"factory {factory!r}: leave out IDMap, the gallery wraps every index in IndexIDMap2"
        )
    try:
        index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as err:
        raise ValueError(f"FAISS cannot build factory string {factory!r} for dim {dim}: {err}") from err
    for part in (faiss.downcast_index(index), faiss.try_extract_index_ivf(index)):
        if part is not None and hasattr(part, "do_polysemous_training"):
            part.do_polysemous_training = False  # only serves Hamming pre-filtering, which we never use
    return index


def train_size(factory: str, index: faiss.Index) -> int:
    """Vectors needed to train `index` well (39 per centroid, FAISS's own floor); 0 when it needs none."""
    if index.is_trained:
        return 0
    need = 1000  # scalar quantizers learn per-dimension ranges; a thousand samples is plenty
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        need = max(need, 39 * ivf.nlist)
    for bits in re.findall(r"PQ\d+(?:x(\d+))?", factory):
        need = max(need, 39 * 2 ** int(bits or 8))
    return need


def removes_in_place(index: faiss.Index) -> bool:
    """Whether remove_ids on this inner index keeps IndexIDMap2's id map right.

    Flat-code indexes (Flat, PQ, SQ) compact their storage the way IndexIDMap2 expects; IVF keeps its
    internal labels (the map then points at the wrong rows) and HNSW cannot remove at all, so those get
    tombstones and a rebuild instead.
    """
    return isinstance(faiss.downcast_index(index), faiss.IndexFlatCodes)


def check_search_keys(params: dict[str, int] | None) -> None:
    """Refuse search parameters no structure knows (a typo would otherwise be ignored silently)."""
    unknown = sorted(set(params or {}) - set(SEARCH_KEYS))
    if unknown:
        raise ValueError(f"unknown search parameter(s) {unknown}; known: {list(SEARCH_KEYS)}")


def search_parameters(
    index: faiss.Index, params: dict[str, int] | None, sel: faiss.IDSelector | None
) -> faiss.SearchParameters | None:
    """Fresh SearchParameters for one call (nothing is set on the shared index); None when nothing to set.

    Keys that do not apply to this structure (nprobe on HNSW) are ignored, so one setting serves all.
    """
    check_search_keys(params)
    params = params or {}
    ivf = faiss.try_extract_index_ivf(index)
    inner = faiss.downcast_index(index)
    p: Any
    if ivf is not None:
        p = faiss.SearchParametersIVF()
        p.nprobe = int(params.get("nprobe", min(ivf.nlist, max(16, ivf.nlist // 8))))
    elif isinstance(inner, faiss.IndexHNSW):
        p = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        p.efSearch = int(params.get("efSearch", DEFAULT_EF_SEARCH))
    elif sel is None:
        return None  # some structures (IndexPQ) refuse any parameters object
    else:
        p = faiss.SearchParameters()
    if sel is not None:
        p.sel = sel
    return p


def filtered_params(
    params: dict[str, int], total: int, allowed: int, max_ef: int = MAX_FILTERED_EF
) -> dict[str, int]:
    """Widen HNSW's beam by how rare the allowed rows are, up to `max_ef`, since a filter keeping 1/16 of
    the rows leaves ~1/16 of each beam usable (bench/fleet_search.py: recall@10 0.66 at 100k, 0.99 widened).
    """
    if not 0 < allowed < total:
        return params
    ef = params.get("efSearch", DEFAULT_EF_SEARCH)
    return {**params, "efSearch": int(max(ef, min(max_ef, ef * total / allowed)))}  # never narrower


def recommended(n: int) -> tuple[str, dict[str, int]]:
    """Factory and search parameters reaching recall@10 >= 0.95 at size n (bench/index_search.py)."""
    if n <= 50_000:
        return "Flat", {}  # exact, and under ~1 ms a query at 10k on one core
    if n <= 300_000:
        return "HNSW32", {"efSearch": 64}  # 0.98 at 100k
    return "HNSW32", {"efSearch": 256}  # efSearch 128 gives 0.95 at 1M: too close

"""The central collection: every site's items under `site:local_id`, named for the model that made them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from index.fleet.filters import fleet_expr
from index.milvus_conn import TIMEOUT_S, collection_name, column, count, ensure_collection, id_column
from index.rows import timestamp
from index.types import GalleryItem, SearchFilters

FIELDS = (
    "site",
    "local_id",
    "sha256",
    "camera",
    "captured_at",
    "captured_ts",
    "external_id",
    "metadata",
    "image_url",
    "created_at",
)
MAX_SITE, MAX_TEXT = 64, 1024
MAX_JSON = 60_000  # metadata JSON bytes: Milvus documents a 65,536-byte JSON field limit (Lite skips it)
VECTOR_INDEXES: dict[str, dict[str, int]] = {"FLAT": {}, "HNSW": {"M": 32, "efConstruction": 200}}


def global_id(site: str, local_id: int) -> str:
    """The fleet-wide primary key of a site's item."""
    return f"{site}:{local_id}"


@dataclass(frozen=True)
class FleetHit:
    """One result from the central collection."""

    global_id: str
    score: float
    fields: dict[str, Any]


def clip(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """Text cut to Milvus's VARCHAR limit in UTF-8 bytes, so one long value can never block a batch."""
    if text is None:
        return None
    return text.encode()[:limit].decode(errors="ignore")


def fleet_metadata(extra: dict[str, Any]) -> dict[str, Any]:
    """The item's metadata, or a marker when it is too large for Milvus (the site keeps the full record)."""
    if len(json.dumps(extra).encode()) <= MAX_JSON:
        return dict(extra)
    return {"_omitted": f"metadata over {MAX_JSON} bytes; the site holds it"}


def central_row(site: str, item: GalleryItem, vector: np.ndarray, image_url: str) -> dict[str, Any]:
    """The central collection's row for one of a site's items."""
    captured = item.meta.captured_at
    return {
        "gid": global_id(site, item.id),
        "site": site,
        "local_id": item.id,
        "embedding": np.asarray(vector, np.float32).tolist(),
        "sha256": item.sha256,
        "camera": clip(item.meta.camera),
        "captured_at": captured.isoformat() if captured else None,
        "captured_ts": timestamp(captured) if captured else None,
        "external_id": clip(item.meta.external_id),
        "metadata": fleet_metadata(item.meta.extra),
        "image_url": clip(image_url, 4 * MAX_TEXT),
        "created_at": item.created_at.isoformat(),
    }


class CentralCollection:
    """One model's fleet collection in Milvus: upsert, delete, filtered search; every call bounded by
    `timeout` seconds, so a hung Milvus fails the call instead of stalling its caller for good."""

    def __init__(
        self,
        client: MilvusClient,
        model_id: str,
        dim: int,
        prefix: str = "fleet",
        ef_search: int = 128,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.client, self.model_id, self.dim, self.ef_search = client, model_id, dim, ef_search
        self.name, self.timeout = collection_name(prefix, model_id), timeout

    def _vector_index(self, index_type: str) -> Any:
        """Index parameters for the embedding field: exact FLAT, or HNSW for large fleets on Milvus."""
        if index_type not in VECTOR_INDEXES:
            raise ValueError(f"vector index {index_type!r}: use one of {sorted(VECTOR_INDEXES)}")
        index = self.client.prepare_index_params()
        index.add_index(
            field_name="embedding", index_type=index_type, metric_type="IP", params=VECTOR_INDEXES[index_type]
        )
        return index

    def ensure(self) -> CentralCollection:
        """Create the collection when missing, or check its model and dimension; returns self."""
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("gid", DataType.VARCHAR, is_primary=True, max_length=MAX_SITE + 24)
        schema.add_field("site", DataType.VARCHAR, max_length=MAX_SITE)
        schema.add_field("local_id", DataType.INT64)
        schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("sha256", DataType.VARCHAR, max_length=64)
        for name in ("camera", "captured_at", "external_id"):
            schema.add_field(name, DataType.VARCHAR, max_length=MAX_TEXT, nullable=True)
        schema.add_field("captured_ts", DataType.DOUBLE, nullable=True)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("image_url", DataType.VARCHAR, max_length=4 * MAX_TEXT)
        schema.add_field("created_at", DataType.VARCHAR, max_length=64)
        index = self._vector_index("FLAT")
        index.add_index(field_name="site", index_type="INVERTED")
        ensure_collection(self.client, self.name, schema, index, self.model_id, self.dim, self.timeout)
        return self

    def use_index(self, index_type: str) -> None:
        """Make the vector index this type (the hub owns that choice), rebuilt in Milvus if it differs."""
        t = self.timeout
        if self.client.describe_index(self.name, "embedding", timeout=t).get("index_type") == index_type:
            return
        wanted = self._vector_index(index_type)
        self.client.release_collection(self.name, timeout=t)
        self.client.drop_index(self.name, "embedding", timeout=t)
        self.client.create_index(self.name, wanted, timeout=t)
        self.client.load_collection(self.name, timeout=t)

    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace rows by global id (replays leave one copy)."""
        if rows:
            self.client.upsert(self.name, list(rows), timeout=self.timeout)

    def delete(self, global_ids: Iterable[str]) -> None:
        """Remove rows by global id (absent ones are ignored)."""
        ids = list(global_ids)
        if ids:
            self.client.delete(self.name, ids=ids, timeout=self.timeout)

    def site_ids(self, site: str) -> np.ndarray:
        """The local ids a site has in the collection, int64 [N]."""
        return id_column(self.client, self.name, "local_id", fleet_expr(None, [site]), self.timeout)

    def sites(self) -> dict[str, int]:
        """Rows per site, read through the whole collection (an operator's view, not a hot path)."""
        return dict(sorted(Counter(column(self.client, self.name, "site", "", self.timeout)).items()))

    def drop_site(self, site: str) -> int:
        """Delete every row of a site (a decommissioned or renamed one) -> rows deleted."""
        gone = len(self.site_ids(site))
        self.client.delete(self.name, filter=fleet_expr(None, [site]), timeout=self.timeout)
        return gone

    def search(
        self,
        query: np.ndarray,
        k: int,
        filters: SearchFilters | None = None,
        sites: Sequence[str] | None = None,
        params: dict[str, int] | None = None,
    ) -> list[FleetHit]:
        """Top-k rows by inner product with a float32 [D] unit query, filters applied inside the search."""
        answer = self.client.search(
            self.name,
            data=[np.asarray(query, np.float32).reshape(-1).tolist()],
            limit=k,
            filter=fleet_expr(filters, sites),
            output_fields=list(FIELDS),
            search_params={"metric_type": "IP", "params": {"ef": max(self.ef_search, k), **(params or {})}},
            timeout=self.timeout,
        )
        hits = [FleetHit(str(h["gid"]), float(h["distance"]), dict(h["entity"])) for h in answer[0]]
        return sorted(hits, key=lambda h: (-h.score, h.global_id))

    def __len__(self) -> int:
        return count(self.client, self.name, self.timeout)

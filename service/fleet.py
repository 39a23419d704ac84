"""The service's side of the fleet: an edge's gallery store and replication, and the hub's central index.

pymilvus (with pandas, ~100 MB resident) is imported only by a service that uses Milvus.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from index import Gallery, SearchFilters, snapshot_factory
from service.settings import FleetSettings, IndexSettings, Settings
from service.views import site_image_url

if TYPE_CHECKING:
    from index.fleet import CentralCollection, FleetHit, Replicator
    from index.milvus_store import MilvusStore


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def redacted(uri: str) -> str:
    """A URI safe to show: any password in it replaced by ***."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def open_gallery(settings: Settings, model_id: str, dim: int) -> Gallery:
    """The edge's gallery: FAISS or a Milvus collection serving search, queuing for the fleet if a site."""
    index: IndexSettings = settings.index
    if index.data_dir is None:
        raise ValueError("no gallery directory configured (--data-dir or PERSON_SEARCH_INDEX__DATA_DIR)")
    data_dir = index.data_dir
    store = None
    if index.backend == "milvus":
        uri = index.milvus_uri or str(data_dir / "milvus.db")
        token, name = _secret(index.milvus_token), index.milvus_collection

        def store(model: str, size: int) -> MilvusStore:
            from index.milvus_store import MilvusStore

            return MilvusStore.open(uri, model, size, token, name)

    params = {"efSearch": index.hnsw_ef_search}
    if index.ivf_nprobe is not None:
        params["nprobe"] = index.ivf_nprobe
    return Gallery.open(
        data_dir,
        model_id,
        dim,
        factory=index.factory or snapshot_factory(data_dir) or "Flat",
        near_duplicate_cosine=index.near_duplicate_cosine,
        use_gpu=index.use_gpu,
        search_params=params if store is None else None,  # FAISS's knobs; Milvus has its own
        vector_store=store,
        site_id=settings.fleet.site_id,
        max_filtered_ef=index.hnsw_filtered_ef_max,
        gpu_temp_mb=index.gpu_temp_memory_mb,
    )


def start_replication(fleet: FleetSettings, gallery: Gallery) -> Replicator | None:
    """Replicate the gallery to the fleet when this edge has a site id."""
    if fleet.site_id is None or fleet.uri is None:
        return None
    from index.fleet import replicate

    return replicate(
        gallery,
        fleet.uri,
        fleet.site_id,
        site_image_url(fleet.public_url or ""),
        _secret(fleet.token),
        batch=fleet.batch_size,
        poll_s=fleet.poll_s,
        max_backoff_s=fleet.max_backoff_s,
    )


class HubIndex:
    """The hub's view of the central collection: searches, a cached size, and whether Milvus answers."""

    COUNT_TTL_S = 5.0

    def __init__(self, fleet: FleetSettings, model_id: str, dim: int) -> None:
        self.fleet, self.model_id, self.dim = fleet, model_id, dim
        self._central: CentralCollection | None = None
        self._lock = threading.Lock()
        self._count: tuple[float, int] | None = None
        self.error: str | None = None

    def central(self) -> CentralCollection:
        """The collection, connecting (again) when needed; raises while Milvus is unreachable."""
        with self._lock:
            if self._central is None:
                from index.fleet import CentralCollection
                from index.milvus_conn import connect

                client = connect(self.fleet.uri or "", _secret(self.fleet.token), self.fleet.hub_timeout_s)
                central = CentralCollection(client, self.model_id, self.dim, ef_search=self.fleet.ef_search)
                central.ensure().use_index(self.fleet.index_type)
                self._central = central
            return self._central

    def _guard(self, call: Any) -> Any:
        """Run a Milvus call, dropping the connection on failure so the next call reconnects."""
        try:
            value = call(self.central())
        except Exception as exc:
            with self._lock:
                self._central, self.error = None, f"{type(exc).__name__}: {exc}"
            raise
        self.error = None
        return value

    def search(
        self, query: np.ndarray, k: int, filters: SearchFilters | None, sites: list[str] | None
    ) -> list[FleetHit]:
        """Top-k over every site's items (or the given sites')."""
        return list(self._guard(lambda c: c.search(query, k, filters, sites)))

    def size(self) -> int:
        """Rows in the central collection, refreshed at most every COUNT_TTL_S seconds."""
        now = time.monotonic()
        if self._count is None or now - self._count[0] > self.COUNT_TTL_S:
            self._count = (now, int(self._guard(len)))
        return self._count[1]

    def scraped_size(self) -> float:
        """The size for /metrics: NaN while Milvus is unreachable, so a scrape never fails."""
        try:
            return float(self.size())
        except Exception:
            return float("nan")

    def status(self) -> dict[str, Any]:
        """Milvus reachability for /health: reachable, collection, count, the last error."""
        try:
            self._count = None
            size, reachable = self.size(), True
        except Exception:
            size, reachable = None, False
        return {
            "uri": redacted(self.fleet.uri or ""),
            "reachable": reachable,
            "collection": self._central.name if self._central is not None else None,
            "count": size,
            "error": self.error,
        }

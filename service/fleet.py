"""The service's side of the fleet: an edge's gallery store and replication, and the hub's central index.

pymilvus (with pandas, ~100 MB resident) is imported only by a service that uses Milvus.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from index import Gallery, ModelMismatchError, SearchFilters, snapshot_factory
from index.errors import FieldError
from service.errors import UnavailableError
from service.probe import Probe
from service.settings import FleetSettings, IndexSettings, Settings
from service.views import site_image_url

if TYPE_CHECKING:
    from index.fleet import CentralCollection, FleetHit, Replicator
    from index.milvus_store import MilvusStore

T = TypeVar("T")


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
    """The hub's view of the central collection: searches, and a row count a background probe refreshes
    (Milvus may hang; /health, /metrics and search read the last count instead of waiting on it)."""

    def __init__(self, fleet: FleetSettings, model_id: str, dim: int) -> None:
        self.fleet, self.model_id, self.dim = fleet, model_id, dim
        self._central: CentralCollection | None = None
        self._lock = threading.Lock()
        self.count = Probe(
            "fleet-count", lambda: int(self._call(len)), fleet.hub_refresh_s, fleet.hub_timeout_s
        )

    def start(self) -> None:
        """Begin refreshing the count."""
        self.count.start()

    def stop(self) -> None:
        """Stop refreshing the count."""
        self.count.stop()

    def central(self) -> CentralCollection:
        """The collection, connecting (again) when needed; raises while Milvus is unreachable."""
        with self._lock:
            if self._central is None:
                from index.fleet import CentralCollection
                from index.milvus_conn import connect

                client = connect(self.fleet.uri or "", _secret(self.fleet.token), self.fleet.hub_timeout_s)
                timeout, ef = self.fleet.hub_timeout_s, self.fleet.ef_search
                central = CentralCollection(client, self.model_id, self.dim, ef_search=ef, timeout=timeout)
                central.ensure().use_index(self.fleet.index_type)
                self._central = central
            return self._central

    def _call(self, call: Callable[[CentralCollection], T]) -> T:
        """Run a Milvus call, dropping the connection when Milvus failed so the next call reconnects."""
        try:
            return call(self.central())
        except (ModelMismatchError, FieldError):  # another model's collection (409), a bad filter (422)
            raise
        except Exception:
            with self._lock:
                self._central = None
            raise

    def _request(self, call: Callable[[CentralCollection], T]) -> T:
        """A Milvus call for a request: Milvus failing is UnavailableError (503); the rest pass as is."""
        try:
            return self._call(call)
        except (ModelMismatchError, FieldError):
            raise
        except Exception as exc:
            raise UnavailableError(f"the fleet's Milvus did not answer: {exc}", retry_after=5) from exc

    def search(
        self, query: np.ndarray, k: int, filters: SearchFilters | None, sites: list[str] | None
    ) -> list[FleetHit]:
        """Top-k over every site's items (or the given sites')."""
        return list(self._request(lambda c: c.search(query, k, filters, sites)))

    def size(self) -> int:
        """Rows in the central collection: the probe's last count (asking Milvus only before the first)."""
        known = self.count.reading().value
        return known if known is not None else int(self._request(len))

    def scraped_size(self) -> float:
        """The size for /metrics: NaN while the count is not current, so a scrape never waits or lies."""
        reading = self.count.reading()
        return float(reading.value) if reading.ok and reading.value is not None else float("nan")

    def status(self) -> dict[str, Any]:
        """Milvus for /health from the probe: reachable, the last count, its age, whether it timed out."""
        reading = self.count.reading()
        stale_after = self.fleet.hub_refresh_s + self.fleet.hub_timeout_s
        return {
            "uri": redacted(self.fleet.uri or ""),
            "reachable": reading.ok,
            "checked": reading.settled,
            "collection": self._central.name if self._central is not None else None,
            "count": reading.value,
            "count_age_s": reading.age_s,
            "stale": reading.age_s is None or reading.age_s > stale_after,
            "refresh_timed_out": reading.timed_out,
            "error": reading.error,
        }

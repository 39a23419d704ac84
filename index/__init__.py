"""The gallery index: SQLite is the durable record, FAISS the derived search structure. Knows no models."""

from index.errors import ModelMismatchError, SnapshotError
from index.factories import recommended
from index.faiss_store import FaissStore
from index.gallery import Gallery
from index.keeper import snapshot_factory
from index.records import stored_model
from index.reindex import pending, reindex
from index.types import AddResult, GalleryItem, Hit, ItemMeta, SearchFilters, TrackRef
from index.vector_store import VectorStore

__all__ = [
    "AddResult",
    "FaissStore",
    "Gallery",
    "GalleryItem",
    "Hit",
    "ItemMeta",
    "ModelMismatchError",
    "SearchFilters",
    "SnapshotError",
    "TrackRef",
    "VectorStore",
    "pending",
    "recommended",
    "reindex",
    "snapshot_factory",
    "stored_model",
]

"""The gallery's reads of single items and pages: by id, by digest, its files, its embedding."""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np

from index.images import ImageStore
from index.records import Records
from index.types import GalleryItem


class ItemReads:
    """Item lookups a Gallery serves straight from its SQLite record and image files."""

    records: Records
    images: ImageStore
    dim: int

    def find_sha256(self, sha256: str) -> int | None:
        """The id of the item with these bytes' digest, so callers can skip encoding what is stored."""
        return self.records.find_shas([sha256]).get(sha256)

    def get(self, item_id: int) -> GalleryItem | None:
        """One item, or None."""
        return self.records.get(item_id)

    def track_id(self, key: str) -> int | None:
        """The gallery track its source names `key` (a connector's replay check), or None."""
        return self.records.track_id(key)

    def list(self, offset: int = 0, limit: int = 50, camera: str | None = None) -> builtins.list[GalleryItem]:
        """Items in id order (oldest first), optionally of one camera."""
        return self.records.page(offset, limit, camera)

    def cameras(self) -> builtins.list[str]:
        """Camera names in the gallery, sorted."""
        return self.records.cameras()

    def vector(self, item_id: int) -> np.ndarray | None:
        """An item's stored embedding (float32 [D], unit length), or None when there is no such item."""
        found = self.records.items([item_id], self.dim)
        return found[item_id][1] if item_id in found else None

    def frame_file(self, item_id: int) -> Path | None:
        """Absolute path of an item's evidence frame (always inside data_dir), or None when it has none."""
        item = self.records.get(item_id)
        return self.images.path(item.frame_path) if item and item.frame_path else None

    def image_file(self, item_id: int) -> Path | None:
        """Absolute path of an item's stored image (always inside data_dir), or None."""
        item = self.records.get(item_id)
        return self.images.path(item.image_path) if item else None

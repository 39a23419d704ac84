"""One split as tensors for training and evaluation: pixels through the one preprocess, captions, ids.

Pixels are preprocessed once and cached in RAM as float16 when the split fits in `cache_max_mb` (the
synthetic demo sets do, by far), so data loading is not the bottleneck on two cores; larger splits are
preprocessed per batch on a small thread pool instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.preprocess import preprocess
from engine.spec import ModelSpec
from training.data.types import PersonDataset, PersonImage

LOADER_THREADS = 4


def load_pixels(item: PersonImage, spec: ModelSpec) -> np.ndarray:
    """Read one image and run the one preprocess -> float32 [3, H, W]; a missing file names its path."""
    path = Path(item.path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} (person {item.person_id}) does not exist")
    with Image.open(path) as image:
        return preprocess(image, spec.image_size, spec.mean, spec.std)


@dataclass
class SplitData:
    """Images of one split, their captions and identities; pixels cached or read on demand."""

    name: str
    items: list[PersonImage]
    spec: ModelSpec
    cache: torch.Tensor | None = None  # float16 [N, 3, H, W] when cached
    person_ids: np.ndarray = field(init=False)  # int64 [N]

    def __post_init__(self) -> None:
        self.person_ids = np.array([i.person_id for i in self.items], dtype=np.int64)

    @classmethod
    def build(cls, dataset: PersonDataset, spec: ModelSpec, cache_max_mb: int) -> SplitData:
        """Wrap a (split of a) dataset; preprocess every image now when the cache fits."""
        data = cls(dataset.name, list(dataset.items), spec)
        h, w = spec.image_size
        if len(data) * 3 * h * w * 2 <= cache_max_mb * 2**20:
            data.cache = torch.from_numpy(data._read(range(len(data)))).to(torch.float16)
        return data

    def __len__(self) -> int:
        return len(self.items)

    @property
    def captions(self) -> list[tuple[str, ...]]:
        """Every image's captions, in item order."""
        return [i.captions for i in self.items]

    def _read(self, indices: Sequence[int]) -> np.ndarray:
        """Preprocess images from disk -> float32 [B, 3, H, W]."""
        with ThreadPoolExecutor(LOADER_THREADS) as pool:
            arrays = list(pool.map(lambda i: load_pixels(self.items[i], self.spec), indices))
        return np.stack(arrays) if arrays else np.zeros((0, 3, *self.spec.image_size), np.float32)

    def pixels(self, indices: Sequence[int]) -> torch.Tensor:
        """Preprocessed float32 [B, 3, H, W] for the given item indices."""
        if self.cache is not None:
            return self.cache[list(indices)].float()
        return torch.from_numpy(self._read(indices))

    def queries(self) -> tuple[list[str], np.ndarray]:
        """Every caption of the split with its person id: the retrieval queries."""
        texts = [c for item in self.items for c in item.captions]
        ids = np.array([item.person_id for item in self.items for _ in item.captions], dtype=np.int64)
        return texts, ids

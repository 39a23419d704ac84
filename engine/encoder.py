"""The Encoder interface every backend implements, and the names of backends and precisions.

An encoder may hold only some towers (the fleet hub encodes search text alone and never loads the image
tower); asking it for a tower it did not load is a RuntimeError saying which towers it has.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from enum import StrEnum
from typing import Any

import numpy as np

from engine.graph_io import Tower
from engine.preprocess import ImageLike, preprocess_batch
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer


class Backend(StrEnum):
    """Inference runtimes, in the order `auto` tries them."""

    AUTO = "auto"
    TENSORRT = "tensorrt"
    ONNXRUNTIME = "onnxruntime"
    TORCH = "torch"


class Precision(StrEnum):
    """Numeric precision of the towers."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"


_INPUTS = {Tower.IMAGE: "images", Tower.TEXT: "text"}


def tower_set(towers: Collection[Tower] | None) -> frozenset[Tower]:
    """The towers to load: None means both; unknown names and an empty collection are errors."""
    if towers is None:
        return frozenset(Tower)
    chosen = frozenset(Tower(t) for t in towers)
    if not chosen:
        raise ValueError(f"towers must name at least one of {', '.join(Tower)}, or be None for both")
    return chosen


class Encoder(ABC):
    """Pixels or text -> L2-normalised float32 embeddings [N, D], whatever runtime is underneath."""

    backend: Backend
    precision: Precision
    device: str

    def __init__(
        self,
        spec: ModelSpec,
        tokenizer: Tokenizer,
        max_batch: int = 32,
        towers: Collection[Tower] | None = None,
    ) -> None:
        self.spec = spec
        self.tokenizer = tokenizer
        self.max_batch = max_batch
        self.towers = tower_set(towers)

    @property
    def model_id(self) -> str:
        """The model_id of the weights behind this encoder (galleries record it)."""
        return self.spec.model_id

    @property
    def embed_dim(self) -> int:
        """Embedding width D."""
        return self.spec.embed_dim

    def require(self, tower: Tower) -> None:
        """Refuse, naming the towers loaded, a call that needs a tower this encoder was loaded without."""
        if tower not in self.towers:
            held = " and ".join(sorted(self.towers))
            raise RuntimeError(
                f"this encoder was loaded with the {held} tower only and cannot encode {_INPUTS[tower]}; "
                f"load it with towers=None (both towers) or towers including '{tower}'"
            )

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Preprocessed float32 [N, 3, H, W] -> float32 [N, D]; N is at most max_batch."""
        self.require(Tower.IMAGE)
        return self._encode_pixels(pixels)

    def encode_tokens(self, ids: np.ndarray) -> np.ndarray:
        """int64 token ids [N, L] trimmed to the batch's real length -> float32 [N, D]."""
        self.require(Tower.TEXT)
        return self._encode_tokens(ids)

    @abstractmethod
    def _encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """The backend's image tower on one batch (the tower is known to be loaded)."""

    @abstractmethod
    def _encode_tokens(self, ids: np.ndarray) -> np.ndarray:
        """The backend's text tower on one batch (the tower is known to be loaded)."""

    def preprocess(self, images: Sequence[ImageLike]) -> np.ndarray:
        """Person crops -> float32 [N, 3, H, W] with this model's geometry and normalisation."""
        return preprocess_batch(images, self.spec.image_size, self.spec.mean, self.spec.std)

    def encode_images(self, images: Sequence[ImageLike]) -> np.ndarray:
        """Person crops -> float32 [N, D], in chunks of max_batch."""
        self.require(Tower.IMAGE)  # before decoding and resizing anything
        chunks = [
            self.encode_pixels(self.preprocess(images[i : i + self.max_batch]))
            for i in range(0, len(images), self.max_batch)
        ]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.embed_dim), np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Descriptions -> float32 [N, D], each chunk run on its own real token length."""
        self.require(Tower.TEXT)
        chunks = []
        for i in range(0, len(texts), self.max_batch):
            ids, _ = self.tokenizer(texts[i : i + self.max_batch])
            chunks.append(self.encode_tokens(ids))
        return np.concatenate(chunks) if chunks else np.zeros((0, self.embed_dim), np.float32)

    def describe(self) -> dict[str, Any]:
        """What /health reports: backend, precision, device, model, geometry and the towers loaded."""
        return {
            "backend": str(self.backend),
            "precision": str(self.precision),
            "device": self.device,
            "model_id": self.model_id,
            "arch": self.spec.arch,
            "image_size": list(self.spec.image_size),
            "embed_dim": self.embed_dim,
            "towers": [str(t) for t in sorted(self.towers)],
        }

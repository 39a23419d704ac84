"""The encoder and the gallery as Settings describe them: one place for `serve` and the CLI alike."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from engine import Encoder, load_encoder
from engine.graph_io import Tower
from service.settings import CameraSettings, Settings

if TYPE_CHECKING:
    from cameras.types import PersonDetector
    from index import Gallery


def encoder_from_settings(
    settings: Settings, towers: Collection[Tower] | None = None, max_batch: int | None = None
) -> Encoder:
    """Load the bundle on the configured backend, precision, device and threads."""
    model, batching = settings.model, settings.batching
    if model.bundle is None:
        raise ValueError("no model bundle configured (--bundle or PERSON_SEARCH_MODEL__BUNDLE)")
    biggest = max_batch or max(batching.text.max_batch, batching.image.max_batch)
    return load_encoder(
        model.bundle,
        model.backend,
        model.precision,
        model.device,
        biggest,
        threads=model.threads,
        towers=towers,
    )


def gallery_from_settings(settings: Settings, encoder: Encoder) -> Gallery:
    """Open the configured gallery (FAISS or Milvus, replication queue) for this encoder's model."""
    from service.fleet import open_gallery

    return open_gallery(settings, encoder.model_id, encoder.embed_dim)


def detector_from_settings(cameras: CameraSettings) -> PersonDetector | None:
    """The configured person detector (None when cameras are off), one thread by default."""
    if cameras.detector is None:
        return None
    from engine.detector.loader import load_detector

    return load_detector(
        cameras.detector,
        cameras.detector_backend,
        cameras.detector_precision,
        batch=cameras.detector_batch,
        threads=cameras.detector_threads,
    )

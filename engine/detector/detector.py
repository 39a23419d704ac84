"""The Detector interface every backend implements: frames in, person boxes in frame pixels out.

A backend only runs the graph on a letterboxed batch; letterboxing, decoding and NMS are shared numpy.
A graph with a static batch is fed full batches of that size (the last one padded with blank frames).
At construction the graph's declared shapes are checked and it runs once on blank frames.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.detector.decode import Detections, PostProcess, decode_batch
from engine.detector.layout import Signature, check_dry_run, check_signature
from engine.detector.letterbox import Transform, letterbox_batch, letterbox_into
from engine.detector.spec import DetectorSpec
from engine.encoder import Backend, Precision

Prepared = tuple[np.ndarray, Transform]  # one frame letterboxed into (3, H, W) float32, and how


def post_process(spec: DetectorSpec) -> PostProcess:
    """The decode settings of a detector.json."""
    return PostProcess(spec.person_class, spec.score_threshold, spec.nms_iou, spec.max_detections)


class Detector(ABC):
    """Person detection on RGB uint8 frames of any size, `batch` frames per call of the graph."""

    backend: Backend
    precision: Precision
    device: str

    def __init__(self, spec: DetectorSpec, batch: int, signature: Signature, where: str) -> None:
        if batch < 1:
            raise ValueError(f"detector batch must be at least 1, not {batch}")
        self.spec, self.post = spec, post_process(spec)
        self.static_batch = check_signature(signature, spec, where)
        self.batch = self.static_batch or batch
        check_dry_run(self._run(self._blank(self.batch)), self.batch, spec, where)

    @property
    def model_id(self) -> str:
        """The model_id of the graph (sha256 of detector.onnx)."""
        return self.spec.model_id

    def _blank(self, count: int) -> np.ndarray:
        """A batch of padding-only inputs (what a frame-less slot of a static batch holds)."""
        h, w = self.spec.input_size
        return np.full((count, 3, h, w), self.spec.letterbox.pad_value / 255.0, np.float32)

    @abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """The graph on one float32 [b, 3, H, W] batch -> float32 [b, 4+C, N]."""

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """RGB uint8 (H0, W0, 3) frames -> one Detections per frame, in chunks of `batch`."""
        box = self.spec.letterbox
        out: list[Detections] = []
        for start in range(0, len(frames), self.batch):
            chunk = frames[start : start + self.batch]
            x, transforms = letterbox_batch(
                chunk, self.spec.input_size, box.pad_value, box.center, self.static_batch or 0
            )
            out += decode_batch(self._run(x), transforms, self.post)
        return out

    def prepare(self, frame: np.ndarray) -> Prepared:
        """One frame letterboxed into the graph's input, ahead of detection (a pipeline does this on its
        decoding thread, so the detector's thread only runs the graph and decodes its output)."""
        h, w = self.spec.input_size
        x = np.empty((3, h, w), np.float32)
        return x, letterbox_into(frame, x, self.spec.letterbox.pad_value, self.spec.letterbox.center)

    def detect_prepared(self, prepared: Sequence[Prepared]) -> list[Detections]:
        """What `detect` gives for frames that `prepare` letterboxed already, in chunks of `batch`."""
        out: list[Detections] = []
        for start in range(0, len(prepared), self.batch):
            chunk = prepared[start : start + self.batch]
            x = np.stack([pixels for pixels, _ in chunk])
            if self.static_batch and len(chunk) < self.static_batch:  # a static graph gets full batches
                x = np.concatenate([x, self._blank(self.static_batch - len(chunk))])
            out += decode_batch(self._run(x), [t for _, t in chunk], self.post)
        return out

    def describe(self) -> dict[str, Any]:
        """What /health reports about the detector."""
        return {
            "backend": str(self.backend),
            "precision": str(self.precision),
            "device": self.device,
            "model_id": self.model_id,
            "input_size": list(self.spec.input_size),
            "batch": self.batch,
            "classes": len(self.spec.class_names),
            "person_class": self.spec.class_names[self.spec.person_class],
        }

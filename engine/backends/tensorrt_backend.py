"""The TensorRT backend: the towers asked for (both by default) as plans built on this device, via pycuda.

Written for the TensorRT 8.6 and 10.x Python APIs; exercised here against a fake tensorrt module only,
never on a real GPU. A plan built for another TensorRT version, GPU or model is never loaded.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from engine.bundle_files import ENGINES_DIR
from engine.devices import cuda_index
from engine.encoder import Backend, Encoder, Precision
from engine.graph_io import Tower
from engine.spec import ModelSpec
from engine.tensorrt.keys import PlanMeta, choose_plan, detect_device, list_plans, mismatch
from engine.tensorrt.runtime import PlanRunner, primary_context
from engine.tensorrt.versions import import_tensorrt
from engine.tokenizer import Tokenizer


def device_index(device: str | None) -> int:
    """'cuda', 'cuda:1' or None -> the CUDA device index; anything else is not a TensorRT device."""
    index = cuda_index(device or "cuda")
    if index is None:
        raise ValueError(f"tensorrt runs on a CUDA device ('cuda' or 'cuda:N'), not {device!r}")
    return index


class TensorRTEncoder(Encoder):
    """The loaded towers' plans, each with its own stream, buffers and lock: text never waits on images."""

    backend = Backend.TENSORRT

    def __init__(
        self,
        spec: ModelSpec,
        tokenizer: Tokenizer,
        meta: PlanMeta,
        trt: ModuleType,
        cuda: ModuleType,
        index: int = 0,
        max_batch: int = 32,
        towers: Collection[Tower] | None = None,
    ) -> None:
        super().__init__(spec, tokenizer, min(max_batch, meta.max_batch), towers)
        if meta.directory is None:
            raise ValueError("plan metadata without its directory")
        self.meta, self.precision = meta, meta.precision
        self.device = f"cuda:{index} ({meta.gpu_name})"
        with primary_context(cuda, index) as context:
            self._context = context
            self.runners = {
                t: PlanRunner(trt, cuda, (meta.directory / f"{t}.plan").read_bytes(), f"{meta.key}/{t}")
                for t in Tower
                if t in self.towers
            }
        self._cuda = cuda

    def _run(self, tower: Tower, x: np.ndarray) -> np.ndarray:
        """One call of a tower's plan with the CUDA context current; the runner locks its own buffers."""
        with primary_context(self._cuda, context=self._context):
            return self.runners[tower].run(x)

    def _encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return self._run(Tower.IMAGE, np.ascontiguousarray(pixels, dtype=np.float32))

    def _encode_tokens(self, ids: np.ndarray) -> np.ndarray:
        return self._run(Tower.TEXT, np.ascontiguousarray(ids, dtype=np.int64))

    def describe(self) -> dict[str, Any]:
        """What /health reports, plus the plan key and the precision of each tower loaded."""
        out = super().describe()
        out["plan"] = self.meta.key
        precisions = self.meta.tower_precisions.items()
        out["tower_precisions"] = {k: str(v) for k, v in precisions if k in self.towers}
        return out


def load_tensorrt_encoder(
    bundle: Path,
    spec: ModelSpec,
    tokenizer: Tokenizer,
    precision: Precision,
    device: str | None = None,
    max_batch: int = 32,
    modules: tuple[ModuleType, ModuleType] | None = None,
    towers: Collection[Tower] | None = None,
) -> TensorRTEncoder:
    """The TensorRT encoder for the plan that fits this device, or an error saying how to build one.

    Only the plans of `towers` (None: both) are read and deserialized; a text-only hub needs no image.plan.
    """
    trt, cuda = modules or import_tensorrt()
    index = device_index(device)
    info = detect_device(trt, cuda, index)
    meta = choose_plan(list_plans(Path(bundle) / ENGINES_DIR), info, precision, max_batch, spec.model_id)
    why = mismatch(meta, info, spec.model_id)
    if why is not None:  # choose_plan already filtered; this guards the one we are about to open
        raise RuntimeError(f"refusing plan {meta.key}: {why}")
    return TensorRTEncoder(spec, tokenizer, meta, trt, cuda, index, max_batch, towers)

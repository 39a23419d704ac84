"""The ONNX Runtime backend: the lean serving path (no torch, no open_clip), on CUDA or the CPU.

Thread settings are explicit: `intra_op_threads` for the kernels of one call, one inter-op thread and
sequential execution, since a tower is a chain of ops and the service parallelises across requests.
The CUDA provider gets the device id asked for and grows its memory arena by what is requested, not
in powers of two: an Orin's GPU shares its memory with the CPU. CPU arena settings are session options.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from engine.devices import cuda_index
from engine.encoder import Backend, Encoder, Precision
from engine.graph_io import INPUT_NAMES, Tower, onnx_path
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer

log = logging.getLogger(__name__)

CUDA_PROVIDER, CPU_PROVIDER = "CUDAExecutionProvider", "CPUExecutionProvider"
CUDA_ARENA = "kSameAsRequested"  # the default, kNextPowerOfTwo, can claim twice what a model needs

Provider = str | tuple[str, dict[str, str]]


def providers_for(device: str) -> list[Provider]:
    """Execution providers in order for a device: CUDA (with its options) then CPU, or the CPU alone."""
    if device == "cpu":
        return [CPU_PROVIDER]
    index = cuda_index(device)
    if index is None:
        raise ValueError(f"onnxruntime device must be 'cpu', 'cuda' or 'cuda:N', not {device!r}")
    options = {"device_id": str(index), "arena_extend_strategy": CUDA_ARENA}
    return [(CUDA_PROVIDER, options), CPU_PROVIDER]


def session_options(intra_op_threads: int, inter_op_threads: int = 1) -> ort.SessionOptions:
    """Deliberate threading: N threads inside an op, sequential ops, full graph optimisation."""
    if intra_op_threads < 1 or inter_op_threads < 1:
        raise ValueError("onnxruntime thread counts must be at least 1")
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


def open_session(path: Path, device: str, options: ort.SessionOptions) -> ort.InferenceSession:
    """A session on `device`; refuses to hand back a CUDA request that silently landed on the CPU."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} not found: run `person-search export BUNDLE` first")
    providers, available = providers_for(device), ort.get_available_providers()
    on_cuda = device != "cpu"
    if on_cuda and CUDA_PROVIDER not in available:
        raise RuntimeError(f"onnxruntime has no {CUDA_PROVIDER} here (available: {', '.join(available)})")
    session = ort.InferenceSession(str(path), options, providers=providers)
    if on_cuda and session.get_providers()[0] != CUDA_PROVIDER:
        raise RuntimeError(f"{CUDA_PROVIDER} failed to load for {path.name}; got {session.get_providers()}")
    return session


class OnnxRuntimeEncoder(Encoder):
    """Runs image.onnx and text.onnx (or their INT8 twins) with ONNX Runtime; a session per tower loaded."""

    backend = Backend.ONNXRUNTIME

    def __init__(
        self,
        bundle: Path,
        spec: ModelSpec,
        tokenizer: Tokenizer,
        device: str = "cpu",
        precision: Precision = Precision.FP32,
        intra_op_threads: int = 1,
        inter_op_threads: int = 1,
        max_batch: int = 32,
        towers: Collection[Tower] | None = None,
    ) -> None:
        super().__init__(spec, tokenizer, max_batch, towers)
        precision = Precision(precision)
        if precision == Precision.FP16:
            raise ValueError(
                "the onnxruntime backend serves fp32 and int8; fp16 is for tensorrt or torch cuda"
            )
        if precision == Precision.INT8 and device != "cpu":
            raise ValueError("onnxruntime int8 (dynamic quantization) runs on the CPU; use tensorrt on a GPU")
        self.device, self.precision = device, precision
        self.intra_op_threads, self.inter_op_threads = intra_op_threads, inter_op_threads
        options = session_options(intra_op_threads, inter_op_threads)
        int8 = precision == Precision.INT8
        self.sessions = {
            t: open_session(onnx_path(bundle, t, int8), device, options) for t in Tower if t in self.towers
        }

    def _run(self, tower: Tower, x: np.ndarray) -> np.ndarray:
        """One call of a tower's session."""
        out = self.sessions[tower].run(None, {INPUT_NAMES[tower]: x})[0]
        return np.asarray(out, dtype=np.float32)

    def _encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        return self._run(Tower.IMAGE, np.ascontiguousarray(pixels, dtype=np.float32))

    def _encode_tokens(self, ids: np.ndarray) -> np.ndarray:
        return self._run(Tower.TEXT, np.ascontiguousarray(ids, dtype=np.int64))

    def describe(self) -> dict[str, Any]:
        """What /health reports, plus the providers and thread settings actually in use."""
        out = super().describe()
        out["providers"] = next(iter(self.sessions.values())).get_providers()
        out["threads"] = {"intra_op": self.intra_op_threads, "inter_op": self.inter_op_threads}
        return out

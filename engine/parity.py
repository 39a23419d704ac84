"""Numerical checks run at every export: ONNX vs torch parity, FP16 vs FP32, INT8 vs FP32.

Each check compares unit-length embeddings row by row and reports the worst row, so one bad case in a
batch cannot hide behind an average.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

PARITY_MAX_ABS = 1e-4
PARITY_MIN_COSINE = 0.9999
FP16_MIN_COSINE = 0.999  # below this an FP16 engine would visibly reorder search results
INT8_MIN_COSINE = 0.99


@dataclass
class Agreement:
    """Worst-row agreement of a candidate's embeddings with the reference's, over all sample inputs."""

    max_abs_diff: float
    min_cosine: float
    cases: list[list[int]]

    def passes(self, max_abs: float | None, min_cosine: float) -> bool:
        """True when the worst row is within both tolerances (max_abs None: cosine only)."""
        close = max_abs is None or self.max_abs_diff <= max_abs
        return close and self.min_cosine >= min_cosine

    def record(self) -> dict[str, Any]:
        """A JSON-ready dict for model.json."""
        out = asdict(self)
        finite = np.isfinite(self.max_abs_diff)
        out["max_abs_diff"] = float(f"{self.max_abs_diff:.3g}") if finite else None  # JSON has no inf
        out["min_cosine"] = round(self.min_cosine, 7)
        return out


def compare(
    reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray], inputs: Sequence[np.ndarray] = ()
) -> Agreement:
    """Agreement of candidate outputs [N, D] with reference outputs, case by case (named by input shape)."""
    if len(reference) != len(candidate) or not reference:
        raise ValueError("compare needs the same non-zero number of reference and candidate outputs")
    worst_abs, worst_cos = 0.0, 1.0
    for ref, got in zip(reference, candidate, strict=True):
        if ref.shape != got.shape:
            raise ValueError(f"output shapes differ: reference {ref.shape}, candidate {got.shape}")
        ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
        cosine = (ref64 * got64).sum(1) / (np.linalg.norm(ref64, axis=1) * np.linalg.norm(got64, axis=1))
        if not np.isfinite(got64).all():  # an overflow: NaN would otherwise slip through min/max
            return Agreement(float("inf"), -1.0, [list(x.shape) for x in (inputs or reference)])
        worst_abs = max(worst_abs, float(np.abs(ref64 - got64).max()))
        worst_cos = min(worst_cos, float(cosine.min()))
    return Agreement(worst_abs, worst_cos, [list(x.shape) for x in (inputs or reference)])


def image_samples(image_size: tuple[int, int], batch_sizes: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """Normalised-pixel-like inputs float32 [B, 3, H, W], one per batch size."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((b, 3, *image_size), dtype=np.float32) for b in batch_sizes]


def text_samples(
    context_length: int, shapes: Sequence[tuple[int, int]], eot_id: int, seed: int = 0
) -> list[np.ndarray]:
    """Token ids int64 [B, L] shaped like the tokenizer's: rows of different real lengths, zero-padded.

    Row i of a batch has real length L - i (at least 1) and ends in `eot_id`, the tokenizer's end-of-text
    id; the other ids are drawn below it.
    """
    rng = np.random.default_rng(seed)
    out = []
    for batch, length in shapes:
        ids = np.zeros((batch, length), dtype=np.int64)
        for i in range(batch):
            real = max(1, length - i)
            ids[i, :real] = rng.integers(1, eot_id, real)
            ids[i, real - 1] = eot_id
        out.append(ids)
    return out


def torch_outputs(module: nn.Module, samples: Sequence[np.ndarray], dtype: torch.dtype) -> list[np.ndarray]:
    """Run a torch tower on each sample (floating inputs cast to dtype); float32 numpy outputs."""
    outs = []
    with torch.inference_mode():
        for sample in samples:
            x = torch.from_numpy(sample)
            outs.append(module(x.to(dtype) if x.is_floating_point() else x).float().numpy())
    return outs


def onnx_outputs(path: Path, input_name: str, samples: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run an ONNX graph on each sample with ONNX Runtime on the CPU."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return [session.run(None, {input_name: s})[0] for s in samples]


def onnx_parity(module: nn.Module, path: Path, input_name: str, samples: Sequence[np.ndarray]) -> Agreement:
    """How closely an exported graph reproduces the torch tower it came from."""
    reference = torch_outputs(module, samples, torch.float32)
    return compare(reference, onnx_outputs(path, input_name, samples), samples)


def fp16_agreement(
    module: nn.Module, samples: Sequence[np.ndarray], reference: Sequence[np.ndarray] | None = None
) -> Agreement:
    """The tower in half precision (torch on the CPU is fine) against FP32: catches LayerNorm overflow."""
    reference = reference if reference is not None else torch_outputs(module, samples, torch.float32)
    half = copy.deepcopy(module).half()
    return compare(reference, torch_outputs(half, samples, torch.float16), samples)


def check(agreement: Agreement, what: str, max_abs: float | None, min_cosine: float) -> Agreement:
    """Raise a loud error naming the worst row when an agreement is outside its tolerances."""
    if not agreement.passes(max_abs, min_cosine):
        raise ValueError(
            f"{what} failed: max abs diff {agreement.max_abs_diff:.3g} (allowed {max_abs}), "
            f"min cosine {agreement.min_cosine:.6f} (needed {min_cosine}) over inputs {agreement.cases}"
        )
    return agreement

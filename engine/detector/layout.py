"""The output-layout contract, checked at load time: on the graph's declared shapes, then on a dry run.

Input float32 [B, 3, H, W]; one output [B, 4+C, N]. A dimension may be dynamic (None) where the dry run can
settle it: the batch, H and W (detector.json fixes them), and N. A static dimension that contradicts
detector.json, a wrong rank, or a second output is refused, naming the graph and the dimension.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.detector.spec import DetectorSpec

Dim = int | None  # None: dynamic


@dataclass(frozen=True)
class Signature:
    """A graph's one input and outputs as its runtime reports them (dynamic dimensions as None)."""

    input_name: str
    input_shape: tuple[Dim, ...]
    outputs: tuple[tuple[str, tuple[Dim, ...]], ...]


def as_dim(value: object) -> Dim:
    """A runtime's dimension (int, -1, a symbolic name or None) -> int, or None when dynamic."""
    return value if isinstance(value, int) and value >= 0 else None


def _shape(shape: tuple[Dim, ...]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def check_signature(sig: Signature, spec: DetectorSpec, where: str) -> Dim:
    """Refuse a graph whose declared shapes cannot hold the layout; returns its static batch (or None)."""
    h, w = spec.input_size
    if len(sig.input_shape) != 4:
        raise ValueError(f"{where}: input {sig.input_name} is {_shape(sig.input_shape)}; need [B, 3, H, W]")
    for axis, (name, want) in enumerate((("channels", 3), ("H", h), ("W", w)), start=1):
        got = sig.input_shape[axis]
        if got is not None and got != want:
            raise ValueError(
                f"{where}: input {sig.input_name} {_shape(sig.input_shape)} has {name}={got}; "
                f"detector.json input_size (H, W) is {spec.input_size} and images have 3 channels"
            )
    if len(sig.outputs) != 1:
        names = [n for n, _ in sig.outputs]
        raise ValueError(f"{where}: has outputs {names}; a detector has one output [B, 4+C, N]")
    name, shape = sig.outputs[0]
    check_output_shape(shape, spec, f"{where}: output {name}")
    batch, out_batch = sig.input_shape[0], shape[0]
    if batch is not None and out_batch is not None and batch != out_batch:
        raise ValueError(f"{where}: input batch {batch} but output batch {out_batch}")
    return batch


def check_output_shape(shape: tuple[Dim, ...], spec: DetectorSpec, where: str) -> None:
    """Refuse an output shape that is not [B, 4+C, N] for the C classes of detector.json."""
    want = spec.channels
    if len(shape) != 3:
        raise ValueError(f"{where} is {_shape(shape)} (rank {len(shape)}); need [B, 4+C, N] = [B, {want}, N]")
    if shape[1] is not None and shape[1] != want:
        transposed = " (it looks transposed: [B, N, 4+C])" if shape[2] == want else ""
        raise ValueError(
            f"{where} is {_shape(shape)}: dimension 1 must be 4 + {len(spec.class_names)} classes = {want} "
            f"(class_names in detector.json){transposed}"
        )


def check_dry_run(out: np.ndarray, batch: int, spec: DetectorSpec, where: str) -> None:
    """The output of one run on a batch of blank frames must be finite float [batch, 4+C, N >= 1]."""
    shape = tuple(int(d) for d in out.shape)
    check_output_shape(shape, spec, f"{where}: dry-run output")
    if shape[0] != batch or shape[2] < 1:
        raise ValueError(
            f"{where}: a batch of {batch} gave output {list(shape)}; need [{batch}, {spec.channels}, N>=1]"
        )
    if not np.issubdtype(out.dtype, np.floating) or not np.isfinite(out).all():
        raise ValueError(f"{where}: dry-run output is not finite floating point ({out.dtype})")

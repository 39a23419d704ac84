"""CPU INT8 towers through ONNX Runtime dynamic quantization: int8 weights, activations quantized per call.

Dynamic quantization needs no calibration set and suits transformers (the MatMuls dominate); ONNX Runtime
runs its MatMulInteger kernels on VNNI/AMX where the CPU has them.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic

log = logging.getLogger(__name__)


def quantize_graph(source: Path, target: Path) -> Path:
    """Write an INT8 twin of an FP32 graph (signed int8 weights, per-tensor, MatMul/Gemm/Conv/Gather)."""
    tmp = Path(target).with_name(Path(target).name + ".tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs a pre-processing hint on the root logger every time
    try:
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    os.replace(tmp, target)
    return Path(target)

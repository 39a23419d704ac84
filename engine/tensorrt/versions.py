"""Which TensorRT versions we build for, what ONNX opsets they parse, and how their APIs differ."""

from __future__ import annotations

import sys
from types import ModuleType

SUPPORTED = "TensorRT 8.6 (JetPack 6.0) and 10.x (JetPack 6.1 and later)"
MAX_OPSET = {8: 17, 10: 20}  # what the ONNX parser of each major version reads


def parse_version(text: str) -> tuple[int, int, int]:
    """'10.3.0.30' or '8.6.2' -> (major, minor, patch)."""
    parts = [int(p) for p in text.split(".")[:3] if p.isdigit()]
    if len(parts) < 2:
        raise ValueError(f"cannot read a TensorRT version from {text!r}")
    return parts[0], parts[1], parts[2] if len(parts) > 2 else 0


def check_supported(version: str) -> tuple[int, int, int]:
    """The parsed version, or an error naming what is supported (11 drops the FP16/INT8 builder flags)."""
    parsed = parse_version(version)
    if not ((8, 6) <= parsed[:2] < (9, 0) or parsed[0] == 10):
        raise RuntimeError(f"TensorRT {version} is not supported; this build supports {SUPPORTED}")
    return parsed


def max_onnx_opset(version: str) -> int:
    """The highest default-domain ONNX opset this TensorRT's parser reads."""
    return MAX_OPSET[check_supported(version)[0]]


def check_opset(opset: int, version: str, graph: str) -> None:
    """Refuse a graph whose opset this TensorRT cannot parse, naming the fix."""
    limit = max_onnx_opset(version)
    if opset > limit:
        raise RuntimeError(
            f"{graph} is ONNX opset {opset} but TensorRT {version} parses opsets up to {limit}. "
            f"Upgrade to JetPack 6.1 or later (TensorRT 10), or re-export with "
            f"`person-search export BUNDLE --opset {limit}` (the text tower may not convert below 18)"
        )


def network_flags(trt: ModuleType, version: str) -> int:
    """Network creation flags: 8.x needs EXPLICIT_BATCH set; 10.x is always explicit (flag deprecated)."""
    if check_supported(version)[0] == 8:
        return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    return 0


def install_hint(python: tuple[int, int] | None = None) -> str:
    """How to get TensorRT's Python bindings for a Python version without building TensorRT from source."""
    major, minor = python or sys.version_info[:2]
    return (
        f"on a Jetson, `pip install` python/tensorrt-*-cp{major}{minor}-none-linux_aarch64.whl from "
        "NVIDIA's L4T TensorRT tarball for your JetPack (docker/Dockerfile.jetson does), or run on "
        "JetPack's own Python 3.10 with `apt install python3-libnvinfer`; then `pip install pycuda` (it "
        "compiles against JetPack's CUDA). On a PC with an NVIDIA GPU: `pip install tensorrt pycuda`"
    )


def import_tensorrt() -> tuple[ModuleType, ModuleType]:
    """The real tensorrt and pycuda.driver modules, or an ImportError that says how to get them."""
    try:
        import pycuda.driver as cuda
        import tensorrt as trt
    except ImportError as exc:
        raise ImportError(f"TensorRT backend needs tensorrt and pycuda ({exc}): {install_hint()}") from exc
    check_supported(trt.__version__)
    return trt, cuda

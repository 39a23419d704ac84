"""Whether the gallery keeps a FAISS GPU copy of its index: by default not on Jetson modules of 8 GB.

A Jetson's GPU has no memory of its own. The GPU copy of a Flat index is a second copy of every vector in
the RAM that the CPU index, the TensorRT engines, ONNX Runtime's arenas and the OS already share; on an
8 GB module that is memory the encoder needs, for a search the CPU answers in milliseconds at the gallery
sizes such a module holds. So `auto` turns the copy on only where the module has room (16 GB and up).
Off a Jetson, `auto` leaves it to FAISS (a copy exists only where the FAISS build sees a GPU).
"""

from __future__ import annotations

import re
from enum import StrEnum

# 8 GB modules report about 7.4 GiB in /proc/meminfo, 16 GB ones about 15 GiB.
MIN_SHARED_GIB = 12.0
_MEM_TOTAL = re.compile(r"^MemTotal:\s+(\d+)\s*kB", re.MULTILINE)


class FaissGpu(StrEnum):
    """What DEPLOY_FAISS_GPU (compose: FAISS_USE_GPU) asks for."""

    AUTO = "auto"
    ON = "true"
    OFF = "false"


def mem_total_gib(meminfo: str) -> float | None:
    """MemTotal of /proc/meminfo in GiB, or None when it is not there."""
    match = _MEM_TOTAL.search(meminfo)
    return int(match[1]) / 2**20 if match else None


def use_faiss_gpu(mode: FaissGpu | str, jetson: bool, total_gib: float | None) -> tuple[bool, str]:
    """The index.use_gpu setting to serve with, and why (for the log)."""
    try:
        mode = FaissGpu(str(mode).strip().lower())
    except ValueError:
        raise ValueError(f"FAISS_USE_GPU is auto, true or false, not {mode!r}") from None
    if mode is not FaissGpu.AUTO:
        return mode is FaissGpu.ON, f"FAISS GPU copy {'on' if mode is FaissGpu.ON else 'off'} as configured"
    if not jetson:
        return True, "not a Jetson: FAISS keeps a GPU copy only if its build sees a GPU"
    if total_gib is None:
        return False, "FAISS GPU copy off: cannot read this module's memory size (/proc/meminfo)"
    if total_gib < MIN_SHARED_GIB:
        return False, (
            f"FAISS GPU copy off: this module has {total_gib:.1f} GiB shared by CPU and GPU "
            f"(under {MIN_SHARED_GIB:.0f}); set FAISS_USE_GPU=true to keep one anyway"
        )
    return True, f"FAISS GPU copy on: this module has {total_gib:.1f} GiB shared by CPU and GPU"

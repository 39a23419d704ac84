"""FAKE FAISS GPU support for tests on a CPU-only FAISS build: what index/gpu.py calls, and no more.

`install(monkeypatch)` makes the real faiss module report one GPU, with FakeStandardGpuResources and an
index_cpu_to_gpu that returns a CPU clone (searches then give the CPU's answers). It lets the mirror's
bookkeeping and the temp-memory setting run here; it proves nothing about a real GPU.
"""

from __future__ import annotations

from typing import ClassVar

import faiss
import pytest


class FakeStandardGpuResources:
    """Records setTempMemory; refuses what SWIG's size_t refuses (a negative or non-integer size)."""

    made: ClassVar[list[FakeStandardGpuResources]] = []

    def __init__(self) -> None:
        self.temp_memory: list[int] = []
        self.copies = 0  # indexes copied to the "device" with these resources
        FakeStandardGpuResources.made.append(self)

    def setTempMemory(self, size: int) -> None:
        if not isinstance(size, int) or size < 0:
            raise TypeError(f"setTempMemory: argument 2 of type 'size_t', got {size!r}")
        self.temp_memory.append(size)


def fake_index_cpu_to_gpu(res: FakeStandardGpuResources, device: int, index: faiss.Index) -> faiss.Index:
    """A CPU clone standing in for the device copy; refuses resources that are not the fake's."""
    if not isinstance(res, FakeStandardGpuResources) or device != 0:
        raise TypeError("index_cpu_to_gpu needs StandardGpuResources and a visible device")
    res.copies += 1
    return faiss.clone_index(index)


def install(monkeypatch: pytest.MonkeyPatch) -> type[FakeStandardGpuResources]:
    """Patch faiss for one test; returns the fake resources class (its `made` lists the instances)."""
    FakeStandardGpuResources.made = []
    monkeypatch.setattr(faiss, "StandardGpuResources", FakeStandardGpuResources, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", fake_index_cpu_to_gpu, raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    return FakeStandardGpuResources

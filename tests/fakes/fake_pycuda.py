"""FAKE pycuda.driver for tests: device memory is bytearrays keyed by address, copies are bounds-checked.

Only what engine/tensorrt uses. It lets the TensorRT runtime's buffer handling run (and fail loudly on an
overflow) on a machine without CUDA. It is not pycuda and proves nothing about a real GPU.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import numpy as np


class FakeDeviceAllocation:
    """A device buffer: int() is its address, like pycuda's DeviceAllocation."""

    def __init__(self, driver: FakePycudaDriver, nbytes: int) -> None:
        self.driver, self.address, self.nbytes = driver, next(driver.addresses), nbytes
        driver.memory[self.address] = bytearray(nbytes)

    def __int__(self) -> int:
        return self.address

    def free(self) -> None:
        del self.driver.memory[self.address]


class FakeStream:
    """A stream with a handle of its own: copies and kernels run at once, synchronize() counts calls."""

    handles = itertools.count(0xC0FFEE)

    def __init__(self) -> None:
        self.handle = next(FakeStream.handles)
        self.synchronized = 0

    def synchronize(self) -> None:
        self.synchronized += 1


class FakeContext:
    """The primary context: push/pop are counted per thread, as CUDA's context stack is, to check balance."""

    def __init__(self, driver: FakePycudaDriver) -> None:
        self.driver = driver

    def push(self) -> None:
        self.driver.context_depth += 1

    def pop(self) -> None:
        if self.driver.context_depth == 0:
            raise RuntimeError("fake pycuda: pop without push")
        self.driver.context_depth -= 1


class FakePycudaDriver:
    """Stands in for `pycuda.driver`; one instance per test so memory never leaks between tests."""

    Stream = FakeStream

    def __init__(self, gpu_name: str = "Fake Orin", compute_capability: tuple[int, int] = (8, 7)) -> None:
        self.gpu_name, self.compute_capability = gpu_name, compute_capability
        self.memory: dict[int, bytearray] = {}
        self.addresses = itertools.count(0x1000, 0x1000)
        self._threads = threading.local()
        self.initialised = False
        driver = self

        class Device:
            """A GPU as pycuda describes it."""

            def __init__(self, index: int) -> None:
                self.index = index

            @staticmethod
            def count() -> int:
                return 1

            def name(self) -> str:
                return driver.gpu_name

            def compute_capability(self) -> tuple[int, int]:
                return driver.compute_capability

            def retain_primary_context(self) -> FakeContext:
                return FakeContext(driver)

        self.Device = Device

    @property
    def context_depth(self) -> int:
        """How many contexts the calling thread has pushed and not popped."""
        return int(getattr(self._threads, "depth", 0))

    @context_depth.setter
    def context_depth(self, depth: int) -> None:
        self._threads.depth = depth

    def init(self) -> None:
        self.initialised = True

    def mem_alloc(self, nbytes: int) -> FakeDeviceAllocation:
        if self.context_depth == 0:
            raise RuntimeError("fake pycuda: mem_alloc without a current context")
        return FakeDeviceAllocation(self, nbytes)

    @staticmethod
    def pagelocked_empty(shape: Any, dtype: Any) -> np.ndarray:
        return np.empty(shape, dtype)

    def _buffer(self, pointer: Any, nbytes: int) -> memoryview:
        """The first nbytes of the allocation at pointer; raises on an overflow or a bad address."""
        memory = self.memory.get(int(pointer))
        if memory is None:
            raise RuntimeError(f"fake pycuda: no allocation at {int(pointer):#x}")
        if nbytes > len(memory):
            raise RuntimeError(f"fake pycuda: {nbytes} bytes into an allocation of {len(memory)}")
        return memoryview(memory)[:nbytes]

    def memcpy_htod(self, dest: Any, src: np.ndarray) -> None:
        self._buffer(dest, src.nbytes)[:] = np.ascontiguousarray(src).tobytes()

    def memcpy_htod_async(self, dest: Any, src: np.ndarray, stream: Any = None) -> None:
        self.memcpy_htod(dest, src)

    def memcpy_dtoh_async(self, dest: np.ndarray, src: Any, stream: Any = None) -> None:
        data = np.frombuffer(self._buffer(src, dest.nbytes), dtype=dest.dtype)
        dest[...] = data.reshape(dest.shape)

    def read(self, pointer: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """Device memory at pointer as an array (what a kernel would read)."""
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        return np.frombuffer(self._buffer(pointer, nbytes), dtype=dtype).reshape(shape).copy()

    def write(self, pointer: int, array: np.ndarray) -> None:
        """Store an array at pointer (what a kernel would write)."""
        self._buffer(pointer, array.nbytes)[:] = np.ascontiguousarray(array).tobytes()

"""Run a TensorRT plan with pycuda: pinned host buffers, device buffers sized for the profile's maximum,
a CUDA stream and a lock of its own, and `execute_async_v3` with the shape of each call.

TensorRT 8.6 and 10.x share this tensor-name API (set_input_shape, set_tensor_address, execute_async_v3);
the binding API (execute_async_v2, binding indices) is deprecated in 8.6 and gone in 10, so it is not used.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np

from engine.tensorrt.buffers import TensorSlot, host_view
from engine.tensorrt.profiles import Profile


@contextmanager
def primary_context(cuda: ModuleType, index: int = 0, context: Any = None) -> Iterator[Any]:
    """Make the device's primary CUDA context (the one TensorRT uses) current for this thread."""
    cuda.init()
    context = context or cuda.Device(index).retain_primary_context()
    context.push()
    try:
        yield context
    finally:
        context.pop()


class PlanRunner:
    """One deserialized plan with its own execution context, buffers, CUDA stream and lock.

    Calls of one plan are serialised (they share its buffers); two plans never wait for each other.
    Construct and run it with the CUDA context current (`primary_context`).
    """

    def __init__(self, trt: ModuleType, cuda: ModuleType, plan: bytes, name: str) -> None:
        self.cuda, self.name = cuda, name
        self.stream, self.lock = cuda.Stream(), threading.Lock()
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(plan)
        if self.engine is None:
            raise RuntimeError(f"TensorRT could not deserialize {name}; rebuild it on this device")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if len(inputs) != 1 or len(outputs) != 1:
            raise RuntimeError(f"{name} has inputs {inputs} and outputs {outputs}; expected one of each")
        low, opt, high = (tuple(s) for s in self.engine.get_tensor_profile_shape(inputs[0], 0))
        self.profile = Profile(inputs[0], low, opt, high)
        self.context.set_input_shape(inputs[0], high)
        self.input = self._slot(trt, inputs[0], True, high)
        self.output = self._slot(trt, outputs[0], False, tuple(self.context.get_tensor_shape(outputs[0])))
        self.host = {s.name: cuda.pagelocked_empty(s.nbytes // s.dtype.itemsize, s.dtype) for s in self.slots}
        self.device = {s.name: cuda.mem_alloc(s.nbytes) for s in self.slots}
        for slot in self.slots:
            self.context.set_tensor_address(slot.name, int(self.device[slot.name]))

    def _slot(self, trt: ModuleType, name: str, is_input: bool, max_shape: tuple[int, ...]) -> TensorSlot:
        """A tensor's slot with the numpy dtype the plan wants (TensorRT 8.6 turns int64 ids into int32)."""
        dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
        return TensorSlot(name, is_input, dtype, tuple(int(d) for d in max_shape))

    @property
    def slots(self) -> tuple[TensorSlot, TensorSlot]:
        """The input and output slots."""
        return self.input, self.output

    def run(self, x: np.ndarray) -> np.ndarray:
        """One call under this plan's lock: copy in, set the input shape, execute on its stream, copy out."""
        self.profile.check(x.shape)
        with self.lock:
            return self._run(x)

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Stage, execute and copy back one call; the caller holds the lock."""
        staged = host_view(self.host[self.input.name], x.shape)
        staged[...] = x  # casts to the plan's dtype (int64 -> int32 on TensorRT 8.6)
        if not self.context.set_input_shape(self.input.name, tuple(x.shape)):
            raise RuntimeError(f"{self.name} rejected input shape {x.shape}")
        out = host_view(self.host[self.output.name], tuple(self.context.get_tensor_shape(self.output.name)))
        self.cuda.memcpy_htod_async(self.device[self.input.name], staged, self.stream)
        if not self.context.execute_async_v3(self.stream.handle):
            raise RuntimeError(f"{self.name}: execute_async_v3 failed")
        self.cuda.memcpy_dtoh_async(out, self.device[self.output.name], self.stream)
        self.stream.synchronize()
        return np.array(out, dtype=np.float32)  # a copy: the pinned buffer is reused by the next call

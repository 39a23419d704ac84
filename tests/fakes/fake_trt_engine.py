"""FAKE TensorRT engine and execution context: run the plan's ONNX graph with ONNX Runtime on fake memory."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort

from fakes.fake_tensorrt import DataType, FakeTensorRT, TensorIOMode


class FakeEngine:
    """A deserialized fake plan: one input, one output ([B, D] or [B, 4+C, N]), one optimization profile."""

    def __init__(self, plan: dict[str, Any], fake: FakeTensorRT) -> None:
        self.plan, self.fake = plan, fake
        self.session = ort.InferenceSession(
            base64.b64decode(plan["onnx"]), providers=["CPUExecutionProvider"]
        )
        name, dtype, dims = plan["inputs"][0]
        out = self.session.get_outputs()[0]
        self.tensors = {
            name: (TensorIOMode.INPUT, DataType[dtype], dims),
            out.name: (TensorIOMode.OUTPUT, DataType.FLOAT, [-1, *out.shape[1:]]),
        }

    @property
    def num_io_tensors(self) -> int:
        return len(self.tensors)

    def get_tensor_name(self, i: int) -> str:
        return list(self.tensors)[i]

    def get_tensor_mode(self, name: str) -> TensorIOMode:
        return self.tensors[name][0]

    def get_tensor_dtype(self, name: str) -> DataType:
        return self.tensors[name][1]

    def get_tensor_shape(self, name: str) -> list[int]:
        return list(self.tensors[name][2])

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[list[int]]:
        if profile_index != 0:
            raise IndexError("fake engine has one profile")
        return self.plan["profile"][name]

    def create_execution_context(self) -> FakeExecutionContext:
        return FakeExecutionContext(self)


class FakeExecutionContext:
    """Shapes and addresses per tensor; execute_async_v3 reads input memory, runs ORT, writes output.

    It records the stream handle of each call, and calls `on_execute` (when a test sets it) while the
    kernel "runs", so a test can hold one plan mid-execution.
    """

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.addresses: dict[str, int] = {}
        self.calls: list[tuple[int, ...]] = []
        self.streams: list[int] = []
        self.on_execute: Callable[[], None] | None = None

    def set_input_shape(self, name: str, shape: Any) -> bool:
        low, _, high = self.engine.get_tensor_profile_shape(name, 0)
        shape = tuple(int(d) for d in shape)
        if not all(a <= s <= b for a, s, b in zip(low, shape, high, strict=True)):
            return False
        self.shapes[name] = shape
        return True

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        mode, _, dims = self.engine.tensors[name]
        if mode == TensorIOMode.INPUT:
            return self.shapes.get(name, tuple(dims))
        batch = next(iter(self.shapes.values()))[0] if self.shapes else -1
        return (batch, *dims[1:])

    def set_tensor_address(self, name: str, address: int) -> bool:
        self.addresses[name] = int(address)
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        if set(self.addresses) != set(self.engine.tensors) or not self.shapes:
            return False
        (name, shape), cuda = next(iter(self.shapes.items())), self.engine.fake.cuda
        dtype = self.engine.fake.nptype(self.engine.get_tensor_dtype(name))
        x = cuda.read(self.addresses[name], shape, dtype)
        if self.on_execute is not None:
            self.on_execute()
        if x.dtype.kind == "i":
            x = x.astype(np.int64)  # the graph takes int64 ids; TensorRT 8.6 would run them as int32
        out = self.engine.session.run(None, {name: x})[0].astype(np.float32)
        output = next(n for n, t in self.engine.tensors.items() if t[0] == TensorIOMode.OUTPUT)
        cuda.write(self.addresses[output], out)
        self.calls.append(shape)
        self.streams.append(int(stream_handle))
        return True

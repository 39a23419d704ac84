"""FAKE tensorrt module for tests: the subset of the TensorRT 8.6 / 10.x Python API that engine/tensorrt uses.

Its "plans" are JSON carrying the ONNX graph, and its execution context runs that graph with ONNX Runtime
on the fake device memory of FakePycudaDriver. It mimics the API differences we rely on (8.x needs the
EXPLICIT_BATCH flag, parses opsets up to 17 and turns int64 inputs into int32; a plan only deserializes on
the version that built it). Its parser refuses what the real one refuses: a LayerNormalization declaring
its optional Mean/InvStdDev outputs (NVIDIA/TensorRT#3457), nodes of custom domains (no plugins here) and,
on 8.x, ONNX local functions (parsed from TensorRT 9.0 on). Its builder calibrates INT8 as TensorRT does:
get_batch is called during build_serialized_network, an exception there is printed and read as the end of
the data, and with no batch at all the build fails. Passing against it shows our calls are consistent, not
that TensorRT works.
"""

from __future__ import annotations

import base64
import enum
import json
from typing import Any

import numpy as np
import onnx

from fakes.fake_pycuda import FakePycudaDriver

LayerType = enum.Enum("LayerType", "NORMALIZATION SOFTMAX REDUCE MATRIX_MULTIPLY ELEMENTWISE SHUFFLE OTHER")
DataType = enum.Enum("DataType", "FLOAT HALF INT8 INT32 INT64 BOOL")
TensorIOMode = enum.Enum("TensorIOMode", "INPUT OUTPUT")
BuilderFlag = enum.Enum("BuilderFlag", "FP16 INT8 OBEY_PRECISION_CONSTRAINTS PREFER_PRECISION_CONSTRAINTS")
MemoryPoolType = enum.Enum("MemoryPoolType", "WORKSPACE")
NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0})
NP_TYPES = {
    DataType.FLOAT: np.float32,
    DataType.HALF: np.float16,
    DataType.INT32: np.int32,
    DataType.INT64: np.int64,
    DataType.INT8: np.int8,
    DataType.BOOL: np.bool_,
}
LAYER_OF_OP = {
    "LayerNormalization": LayerType.NORMALIZATION,
    "Softmax": LayerType.SOFTMAX,
    "ReduceL2": LayerType.REDUCE,
    "ReduceMean": LayerType.REDUCE,
    "MatMul": LayerType.MATRIX_MULTIPLY,
    "Gemm": LayerType.MATRIX_MULTIPLY,
    "Add": LayerType.ELEMENTWISE,
    "Reshape": LayerType.SHUFFLE,
}


class Logger:
    WARNING, ERROR, INFO, VERBOSE = range(4)

    def __init__(self, severity: int = 0) -> None:
        self.severity = severity


class IInt8EntropyCalibrator2:
    def __init__(self) -> None:
        self.base_initialised = True


class FakeLayer:
    def __init__(self, name: str, kind: LayerType, dtype: DataType) -> None:
        self.name, self.type, self.num_outputs = name, kind, 1
        self.precision, self.output_types, self._dtype = dtype, {0: dtype}, dtype

    def get_output(self, i: int) -> Any:
        return type("FakeTensor", (), {"dtype": self._dtype})()

    def set_output_type(self, i: int, dtype: DataType) -> None:
        self.output_types[i] = dtype


class FakeNetwork:
    def __init__(self, flags: int) -> None:
        self.flags, self.layers, self.onnx = flags, [], b""
        self.inputs: list[tuple[str, DataType, list[int]]] = []

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def get_layer(self, i: int) -> FakeLayer:
        return self.layers[i]


class FakeProfile:
    def __init__(self) -> None:
        self.shapes: dict[str, list[list[int]]] = {}

    def set_shape(self, name: str, low: Any, opt: Any, high: Any) -> None:
        self.shapes[name] = [list(low), list(opt), list(high)]


class FakeTimingCache:
    def __init__(self, blob: bytes) -> None:
        self.loaded_from = bytes(blob)

    def serialize(self) -> bytes:
        return b"FAKE-TIMING-CACHE"


class FakeConfig:
    def __init__(self) -> None:
        self.flags: set[BuilderFlag] = set()
        self.pools: dict[Any, int] = {}
        self.profiles: list[FakeProfile] = []
        self.int8_calibrator: Any = None
        self.calibration_profile: FakeProfile | None = None
        self.timing_cache: FakeTimingCache | None = None

    def set_flag(self, flag: BuilderFlag) -> None:
        self.flags.add(flag)

    def set_memory_pool_limit(self, pool: Any, size: int) -> None:
        self.pools[pool] = size

    def add_optimization_profile(self, profile: FakeProfile) -> int:
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def set_calibration_profile(self, profile: FakeProfile) -> bool:
        self.calibration_profile = profile
        return True

    def create_timing_cache(self, blob: bytes) -> FakeTimingCache:
        return FakeTimingCache(blob)

    def set_timing_cache(self, cache: FakeTimingCache, ignore_mismatch: bool) -> bool:
        self.timing_cache = cache
        return True


class FakeTensorRT:
    """Stands in for the `tensorrt` module at one version, on one FakePycudaDriver."""

    Logger, IInt8EntropyCalibrator2, LayerType, DataType = (
        Logger,
        IInt8EntropyCalibrator2,
        LayerType,
        DataType,
    )
    TensorIOMode, BuilderFlag, MemoryPoolType = TensorIOMode, BuilderFlag, MemoryPoolType
    NetworkDefinitionCreationFlag = NetworkDefinitionCreationFlag
    float32, float16, int32, int64 = DataType.FLOAT, DataType.HALF, DataType.INT32, DataType.INT64

    def __init__(self, version: str, cuda: FakePycudaDriver) -> None:
        self.__version__, self.cuda, self.major = version, cuda, int(version.split(".")[0])
        self.builds: list[dict[str, Any]] = []
        self.swallowed: list[Exception] = []  # what get_batch raised; TensorRT prints it and carries on
        fake = self

        class Builder:
            def __init__(self, logger: Logger) -> None:
                self.logger = logger

            def create_network(self, flags: int = 0) -> FakeNetwork:
                if fake.major == 8 and not flags & 1:
                    raise RuntimeError("fake TensorRT 8: the ONNX parser needs an explicit-batch network")
                return FakeNetwork(flags)

            def create_builder_config(self) -> FakeConfig:
                return FakeConfig()

            def create_optimization_profile(self) -> FakeProfile:
                return FakeProfile()

            def build_serialized_network(self, network: FakeNetwork, config: FakeConfig) -> bytes | None:
                return fake._build(network, config)

        class OnnxParser:
            def __init__(self, network: FakeNetwork, logger: Logger) -> None:
                self.network, self.errors = network, []

            @property
            def num_errors(self) -> int:
                return len(self.errors)

            def get_error(self, i: int) -> str:
                return self.errors[i]

            def parse_from_file(self, path: str) -> bool:
                return fake._parse(self, path)

        class Runtime:
            def __init__(self, logger: Logger) -> None:
                self.logger = logger

            def deserialize_cuda_engine(self, blob: bytes) -> Any:
                plan = json.loads(blob)
                if plan["version"] != fake.__version__:  # real TensorRT logs an error and returns None
                    return None
                from fakes.fake_trt_engine import FakeEngine

                return FakeEngine(plan, fake)

        self.Builder, self.OnnxParser, self.Runtime = Builder, OnnxParser, Runtime

    @staticmethod
    def nptype(dtype: DataType) -> type:
        return NP_TYPES[dtype]

    def _refusal(self, model: onnx.ModelProto) -> str | None:
        """Why the real parser of this version would refuse the graph, or None."""
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        if opset > (17 if self.major == 8 else 20):
            return f"unsupported opset {opset}"
        if model.functions and self.major == 8:
            return f"local function {model.functions[0].name!r}: not supported before TensorRT 9.0"
        functions = {(f.domain, f.name) for f in model.functions}
        for node in model.graph.node:
            if node.domain not in ("", "ai.onnx") and (node.domain, node.op_type) not in functions:
                return f"No importer registered for op: {node.op_type} ({node.domain}); plugin not found"
            if node.op_type == "LayerNormalization" and len(node.output) > 1:
                return f"node {node.name}: Node has more output tensors than TRT expected"
        return None

    def _parse(self, parser: Any, path: str) -> bool:
        model = onnx.load(path)
        refusal = self._refusal(model)
        if refusal is not None:
            parser.errors.append(f"fake TensorRT {self.__version__}: {refusal}")
            return False
        model = onnx.shape_inference.infer_shapes(model)
        parser.network.onnx = model.SerializeToString()
        for value in model.graph.input:
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]
            is_int = value.type.tensor_type.elem_type == onnx.TensorProto.INT64
            dtype = (DataType.INT32 if self.major == 8 else DataType.INT64) if is_int else DataType.FLOAT
            parser.network.inputs.append((value.name, dtype, dims))
        floats = {v.name for v in [*model.graph.value_info, *model.graph.output]
                  if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}  # fmt: skip
        for node in model.graph.node:
            dtype = DataType.FLOAT if node.output[0] in floats else DataType.INT64
            parser.network.layers.append(
                FakeLayer(node.name, LAYER_OF_OP.get(node.op_type, LayerType.OTHER), dtype)
            )
        return True

    def _build(self, network: FakeNetwork, config: FakeConfig) -> bytes | None:
        if len(config.profiles) != 1 or {n for n, _, _ in network.inputs} != set(config.profiles[0].shapes):
            return None  # real TensorRT: every dynamic input needs a shape in the profile
        calibrated = self._calibrate(network, config) if BuilderFlag.INT8 in config.flags else 0
        if calibrated is None:
            return None
        fp32 = [
            la.name for la in network.layers if la.precision == DataType.FLOAT and la.type != LayerType.OTHER
        ]
        record = {
            "version": self.__version__,
            "onnx": base64.b64encode(network.onnx).decode(),
            "inputs": [[n, d.name, s] for n, d, s in network.inputs],
            "profile": config.profiles[0].shapes,
            "flags": sorted(f.name for f in config.flags),
            "fp32_layers": fp32 if BuilderFlag.FP16 in config.flags else [],
            "calibrated_batches": calibrated,
            "timing_cache_in": config.timing_cache.loaded_from.decode() if config.timing_cache else None,
        }
        self.builds.append(record)
        return json.dumps(record).encode()

    def _calibrate(self, network: FakeNetwork, config: FakeConfig) -> int | None:
        calibrator = config.int8_calibrator
        if calibrator is None or config.calibration_profile is None:
            raise RuntimeError("fake TensorRT: INT8 without a calibrator and calibration profile")
        if calibrator.read_calibration_cache() is not None:
            return 0
        name, _, dims = network.inputs[0]
        shape = (calibrator.get_batch_size(), *dims[1:])
        low, opt, high = config.calibration_profile.shapes[name]
        if not low == opt == high == list(shape):  # TensorRT calibrates at the calibration profile's shape
            raise RuntimeError(f"fake TensorRT: calibration profile {opt} does not match batches {shape}")
        count = 0
        while (pointers := self._next_batch(calibrator, name)) is not None:
            batch = self.cuda.read(pointers[0], shape, np.float32)
            assert np.isfinite(batch).all()
            count += 1
        if count == 0:  # real TensorRT: no scaling factors, the build fails
            print("fake TensorRT: calibration failure occurred with no scaling factors detected")
            return None
        calibrator.write_calibration_cache(b"FAKE-CALIBRATION")
        return count

    def _next_batch(self, calibrator: Any, name: str) -> list[int] | None:
        """get_batch as TensorRT calls it: an exception is printed, kept for tests, and read as the end."""
        try:
            pointers = calibrator.get_batch([name])
        except Exception as exc:
            print(f"fake TensorRT: exception in get_batch: {exc!r}")
            self.swallowed.append(exc)
            return None
        return None if pointers is None else list(pointers)

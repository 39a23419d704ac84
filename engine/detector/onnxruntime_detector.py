"""The detector on ONNX Runtime (CUDA or CPU), through the same session code the CLIP towers use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from engine.backends.onnxruntime_backend import open_session, session_options
from engine.detector.detector import Detector
from engine.detector.layout import Signature, as_dim
from engine.detector.spec import DETECTOR_ONNX, DetectorSpec
from engine.encoder import Backend, Precision


def signature(session: ort.InferenceSession, where: str) -> Signature:
    """The session's input and outputs; the input must be one float32 tensor."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(float)":
        found = [(i.name, i.type) for i in inputs]
        raise ValueError(f"{where}: inputs {found}; a detector takes one float32 [B, 3, H, W] image batch")
    outputs = tuple((o.name, tuple(as_dim(d) for d in o.shape)) for o in session.get_outputs())
    return Signature(inputs[0].name, tuple(as_dim(d) for d in inputs[0].shape), outputs)


class OnnxRuntimeDetector(Detector):
    """detector.onnx in an ONNX Runtime session; FP32 on CUDA or the CPU."""

    backend = Backend.ONNXRUNTIME
    precision = Precision.FP32

    def __init__(
        self, directory: Path, spec: DetectorSpec, device: str = "cpu", threads: int = 1, batch: int = 8
    ) -> None:
        path = Path(directory) / DETECTOR_ONNX
        self.device, self.threads = device, threads
        self.session = open_session(path, device, session_options(threads))
        sig = signature(self.session, str(path))
        self.input_name = sig.input_name
        super().__init__(spec, batch, sig, str(path))

    def _run(self, x: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(x, np.float32)})[0]
        return np.asarray(out, dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        """What /health reports, plus the providers and threads in use."""
        return {**super().describe(), "providers": self.session.get_providers(), "threads": self.threads}

"""Export the tiny detector to the detector contract: YOLO layout [B, 5, N], one class "person".

torch's dynamo exporter (dynamic batch, fixed H and W) writes opset 18; the graph is converted down to 17
so TensorRT 8.6 parses it, checked against torch on ONNX Runtime, then written by `save_detector` (the
same path an imported YOLO export takes), so serving cannot tell it from a real YOLO.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch

from engine.detector.spec import DetectorSpec, Letterbox
from engine.detector.write import save_detector
from engine.onnx_towers import NATIVE_OPSET, down_convert
from training.detector.dataset import PAD_VALUE
from training.detector.model import TinyDetector, YoloLayout

INPUT, OUTPUT = "images", "output0"  # the names an Ultralytics export uses
PARITY_ATOL = 1e-2  # input pixels (boxes) and probabilities; float32 graphs agree far closer


def to_onnx(model: TinyDetector, input_size: tuple[int, int], opset: int = 17) -> onnx.ModelProto:
    """The exported graph, input float32 [B, 3, H, W] -> [B, 5, N], batch dynamic."""
    wrapper = YoloLayout(model).eval()
    example = torch.rand(2, 3, *input_size)
    batch = torch.export.Dim("batch", min=1, max=1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            wrapper, (example,), input_names=[INPUT], output_names=[OUTPUT], opset_version=NATIVE_OPSET,
            dynamo=True, dynamic_shapes={"pixels": {0: batch}}, verbose=False,
        )  # fmt: skip
    if program is None:
        raise RuntimeError("torch.onnx.export returned nothing for the detector")
    graph = program.model_proto
    return down_convert(graph, opset) if opset < NATIVE_OPSET else graph


def check_parity(model: TinyDetector, graph: onnx.ModelProto, input_size: tuple[int, int]) -> float:
    """Largest torch vs ONNX Runtime difference on random batches of 1 and 3; raises past tolerance."""
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    wrapper, worst = YoloLayout(model).eval(), 0.0
    for batch in (1, 3):
        x = torch.rand(batch, 3, *input_size, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            expected = wrapper(x).numpy()
        got = session.run(None, {INPUT: x.numpy()})[0]
        worst = max(worst, float(np.abs(got - expected).max()))
    if worst > PARITY_ATOL:
        raise RuntimeError(f"the exported detector differs from torch by {worst:.4g} (> {PARITY_ATOL})")
    return worst


def export_detector(
    model: TinyDetector, out: Path, input_size: tuple[int, int], provenance: dict[str, Any]
) -> DetectorSpec:
    """Write OUT/detector.onnx and OUT/detector.json for a trained tiny detector."""
    model = model.eval()
    graph = to_onnx(model, input_size)
    parity = check_parity(model, graph, input_size)
    return save_detector(
        graph, out, input_size=input_size, class_names=["person"], person_class=0,
        letterbox=Letterbox(pad_value=PAD_VALUE, center=True),
        provenance={**provenance, "parity_max_abs": parity},
    )  # fmt: skip

"""Write a detector directory: the graph made TensorRT-parser-ready, detector.json, and a load check.

Every detector graph the project writes (an imported YOLO export, the demo's trained detector) goes
through `save_detector`, so through `tensorrt_ready`; the directory is only kept once it loads on ONNX
Runtime and its dry run gives the layout. Needs the `onnx` package (not part of the serving path).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from engine.detector.spec import (
    DETECTOR_JSON,
    DETECTOR_ONNX,
    DetectorSpec,
    GraphRecord,
    Letterbox,
    file_model_id,
)
from engine.onnx_clean import clean_graph

YOLO_LETTERBOX = Letterbox(pad_value=114, center=True)


def tensorrt_ready(model: onnx.ModelProto) -> onnx.ModelProto:
    """Every detector graph written goes through the towers' TensorRT-parser-ready check (trimmed
    LayerNormalization statistics, the default domain only, no local functions)."""
    return clean_graph(model)


def graph_record(model: onnx.ModelProto, where: str) -> GraphRecord:
    """Input and output names, default-domain opset and static batch of a graph with one input and output."""
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(
            f"{where}: has inputs {[i.name for i in inputs]} and outputs {[o.name for o in graph.output]}; "
            "a detector has one input [B, 3, H, W] and one output [B, 4+C, N]"
        )
    dims = inputs[0].type.tensor_type.shape.dim
    batch = dims[0].dim_value if dims and dims[0].HasField("dim_value") else None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise ValueError(f"{where}: declares no default-domain (ai.onnx) opset")
    return GraphRecord(input=inputs[0].name, output=graph.output[0].name, opset=opset, batch=batch or None)


def save_detector(
    model: onnx.ModelProto,
    directory: Path,
    *,
    input_size: tuple[int, int],
    class_names: list[str],
    person_class: int,
    letterbox: Letterbox = YOLO_LETTERBOX,
    score_threshold: float = 0.25,
    nms_iou: float = 0.45,
    max_detections: int = 100,
    provenance: dict[str, Any] | None = None,
) -> DetectorSpec:
    """Write DIR/detector.onnx and detector.json, then load it once on the CPU; nothing is kept on failure."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = tensorrt_ready(model)
    onnx.checker.check_model(model)
    record = graph_record(model, "the detector graph")
    onnx_file, json_file = directory / DETECTOR_ONNX, directory / DETECTOR_JSON
    tmp = onnx_file.with_name(onnx_file.name + ".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, onnx_file)
    spec = DetectorSpec(
        input_size=input_size,
        class_names=class_names,
        person_class=person_class,
        letterbox=letterbox,
        score_threshold=score_threshold,
        nms_iou=nms_iou,
        max_detections=max_detections,
        model_id=file_model_id(onnx_file),
        graph=record,
        provenance=provenance or {},
    )
    spec.save(directory)
    try:
        from engine.detector.onnxruntime_detector import OnnxRuntimeDetector

        OnnxRuntimeDetector(directory, DetectorSpec.load(directory), "cpu", threads=1, batch=2)
    except Exception:
        onnx_file.unlink(missing_ok=True)
        json_file.unlink(missing_ok=True)
        raise
    return spec

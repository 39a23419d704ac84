"""DetectorSpec: detector.json, which makes any ONNX with the YOLOv8/YOLO11 output layout a person detector.

A detector directory holds `detector.onnx` (input float32 [B, 3, H, W] RGB in [0, 1]; output [B, 4+C, N]:
cx, cy, w, h in input pixels, then C class scores, no NMS inside) and `detector.json` beside it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DETECTOR_JSON = "detector.json"
DETECTOR_ONNX = "detector.onnx"


class Letterbox(BaseModel):
    """How a frame is fitted into the input: scaled to fit, the rest filled with `pad_value`."""

    model_config = ConfigDict(extra="forbid")

    pad_value: int = Field(ge=0, le=255, description="fill of the padding, 0-255 (YOLO: 114)")
    center: bool = Field(description="pad both sides equally (YOLO); false pads right and bottom only")


class GraphRecord(BaseModel):
    """What the tool that wrote detector.json read from the graph, so serving needs no `onnx` package."""

    model_config = ConfigDict(extra="forbid")

    input: str
    output: str
    opset: int = Field(ge=1, description="default-domain ONNX opset (TensorRT 8.6 parses up to 17)")
    batch: int | None = Field(ge=1, description="the graph's static batch, null when it is dynamic")


class DetectorSpec(BaseModel):
    """detector.json: geometry, classes, post-processing and identity of one detector."""

    model_config = ConfigDict(extra="forbid")

    input_size: tuple[int, int] = Field(description="(H, W) of the network input")
    class_names: list[str] = Field(min_length=1, description="C names, in the order of the score rows")
    person_class: int = Field(ge=0, description="index of 'person' in class_names")
    letterbox: Letterbox
    score_threshold: float = Field(gt=0.0, lt=1.0)
    nms_iou: float = Field(gt=0.0, le=1.0, description="IoU above which NMS drops the lower box")
    max_detections: int = Field(ge=1, description="kept per frame after NMS, best first")
    model_id: str = Field(min_length=1, description="sha256 of detector.onnx, first 16 hex digits")
    graph: GraphRecord
    provenance: dict[str, Any] = Field(default_factory=dict, description="how it was made, metrics")

    @model_validator(mode="after")
    def _consistent(self) -> DetectorSpec:
        if min(self.input_size) < 1:
            raise ValueError(f"input_size {self.input_size} must be two positive integers (H, W)")
        if self.person_class >= len(self.class_names):
            raise ValueError(
                f"person_class {self.person_class} is outside class_names ({len(self.class_names)} names)"
            )
        return self

    @property
    def channels(self) -> int:
        """4 box values + C class scores: the middle dimension of the output."""
        return 4 + len(self.class_names)

    def save(self, directory: Path) -> Path:
        """Write detector.json into a detector directory."""
        path = Path(directory) / DETECTOR_JSON
        path.write_text(json.dumps(self.model_dump(mode="json"), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, directory: Path) -> DetectorSpec:
        """Read detector.json, naming the file and every bad or missing field; check the ONNX is its own."""
        path = Path(directory) / DETECTOR_JSON
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} not found: a detector directory needs {DETECTOR_JSON} beside {DETECTOR_ONNX} "
                "(`person-search import-detector MODEL.onnx --out DIR` writes one)"
            )
        try:
            spec = cls.model_validate_json(path.read_text())
        except ValidationError as exc:
            raise ValueError(f"{path} is not a valid detector spec: {field_errors(exc)}") from None
        spec.check_onnx(Path(directory))
        return spec

    def check_onnx(self, directory: Path) -> None:
        """Raise when detector.onnx is missing or is not the graph this spec's model_id names."""
        onnx_file = Path(directory) / DETECTOR_ONNX
        if not onnx_file.is_file():
            raise FileNotFoundError(f"{onnx_file} not found beside {DETECTOR_JSON}")
        actual = file_model_id(onnx_file)
        if actual != self.model_id:
            raise ValueError(
                f"{onnx_file} (sha256 {actual}) is not the graph {DETECTOR_JSON} describes (model_id "
                f"{self.model_id}); re-run `person-search import-detector` on the new graph"
            )


def field_errors(exc: ValidationError) -> str:
    """'score_threshold: Field required; letterbox.pad_value: ...': each bad field by its dotted path."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(file)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def file_model_id(path: Path) -> str:
    """The model_id of an ONNX file: the first 16 hex digits of the sha256 of its bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]

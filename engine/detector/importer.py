"""Import a YOLOv8/YOLO11 ONNX export (`yolo export model=yolo11n.pt format=onnx`) as a detector directory.

Ultralytics writes `names` (a Python dict literal, index -> class name) and `imgsz` ("[H, W]") into the
ONNX metadata; they are read when present, and anything given explicitly wins. Other exporters with the
same output layout work too when class names and input size are passed.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import onnx

from engine.detector.spec import DetectorSpec, Letterbox
from engine.detector.write import YOLO_LETTERBOX, save_detector

PERSON = "person"


def metadata(model: onnx.ModelProto) -> dict[str, str]:
    """The graph's metadata_props as a dict."""
    return {p.key: p.value for p in model.metadata_props}


def _literal(meta: dict[str, str], key: str, source: str) -> Any:
    """A Python-literal metadata value, or None when absent; a clear error when it does not parse."""
    if key not in meta:
        return None
    try:
        return ast.literal_eval(meta[key])
    except (ValueError, SyntaxError) as exc:
        raise ValueError(f"{source}: metadata {key!r} = {meta[key][:80]!r} is not a Python literal") from exc


def class_names_of(meta: dict[str, str], source: str) -> list[str] | None:
    """Ultralytics `names` ({0: 'person', ...}) as a list in index order, or None when absent."""
    names = _literal(meta, "names", source)
    if names is None:
        return None
    if isinstance(names, dict) and sorted(names) == list(range(len(names))):
        return [str(names[i]) for i in range(len(names))]
    if isinstance(names, list):
        return [str(n) for n in names]
    raise ValueError(f"{source}: metadata 'names' is neither a list nor a dict of indices 0..C-1")


def input_size_of(model: onnx.ModelProto, meta: dict[str, str], source: str) -> tuple[int, int] | None:
    """(H, W) from Ultralytics `imgsz`, else from the graph's static input shape, else None."""
    size = _literal(meta, "imgsz", source)
    if isinstance(size, int):
        return size, size
    if isinstance(size, list | tuple) and len(size) == 2:
        return int(size[0]), int(size[1])
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if len(dims) == 4 and all(d.HasField("dim_value") for d in dims[2:]):
        return dims[2].dim_value, dims[3].dim_value
    return None


def import_detector(
    onnx_file: Path,
    out: Path,
    *,
    class_names: list[str] | None = None,
    person_class: int | None = None,
    input_size: tuple[int, int] | None = None,
    letterbox: Letterbox = YOLO_LETTERBOX,
    score_threshold: float = 0.25,
    nms_iou: float = 0.45,
    max_detections: int = 100,
) -> DetectorSpec:
    """Copy a YOLO-layout ONNX into OUT as detector.onnx with its detector.json, checked by one dry run."""
    source = str(onnx_file)
    try:
        model = onnx.load(source)
    except FileNotFoundError:
        raise
    except Exception as exc:  # protobuf decode errors have no common base class worth naming
        raise ValueError(f"{source} is not an ONNX model: {exc}") from None
    meta = metadata(model)
    names = class_names or class_names_of(meta, source)
    if not names:
        raise ValueError(f"{source} has no 'names' metadata: pass the class names (--classes person,...)")
    if person_class is None:
        if PERSON not in names:
            raise ValueError(f"{source}: no class named {PERSON!r} in {names[:10]}; pass --person-class")
        person_class = names.index(PERSON)
    size = input_size or input_size_of(model, meta, source)
    if size is None:
        raise ValueError(f"{source} has a dynamic input size and no 'imgsz' metadata: pass --input-size HxW")
    provenance: dict[str, str] = {"source": Path(onnx_file).name}
    provenance.update({k: meta[k] for k in ("author", "version", "license") if k in meta})
    return save_detector(
        model, out, input_size=size, class_names=names, person_class=person_class, letterbox=letterbox,
        score_threshold=score_threshold, nms_iou=nms_iou, max_detections=max_detections,
        provenance=provenance,
    )  # fmt: skip

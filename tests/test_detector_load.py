"""detector.json and the output layout are checked at load time; the ONNX Runtime detector end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from detector_helpers import candidates_from, constant_graph
from typer.testing import CliRunner

from cli.app import app
from engine.detector import DETECTOR_JSON, DETECTOR_ONNX, DetectorSpec, load_detector
from engine.detector.importer import import_detector
from engine.detector.layout import check_dry_run
from engine.detector.letterbox import letterbox_batch
from engine.detector.spec import file_model_id
from engine.detector.write import graph_record, save_detector

SIZE = (192, 320)
# two persons and a car in input pixels (classes: person, car)
CANDIDATES = candidates_from(
    [(100, 56, 20, 40, [0.9, 0.1]), (200, 100, 30, 60, [0.8, 0.0]), (60, 60, 30, 30, [0.1, 0.9])]
)


def _save(directory: Path, model: onnx.ModelProto, **changes: object) -> DetectorSpec:
    fields: dict = dict(input_size=SIZE, class_names=["person", "car"], person_class=0)
    fields.update(changes)
    return save_detector(model, directory, **fields)


def _write_raw(directory: Path, model: onnx.ModelProto, names: list[str], **changes: object) -> None:
    """A detector directory written without save_detector's checks (as a hand-made one might be)."""
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(directory / DETECTOR_ONNX))
    fields = {
        "input_size": list(SIZE), "class_names": names, "person_class": 0,
        "letterbox": {"pad_value": 114, "center": True}, "score_threshold": 0.25, "nms_iou": 0.45,
        "max_detections": 100, "model_id": file_model_id(directory / DETECTOR_ONNX),
        "graph": graph_record(model, "test").model_dump(),
    }  # fmt: skip
    fields.update(changes)
    (directory / DETECTOR_JSON).write_text(json.dumps(fields))


def test_onnxruntime_detector_returns_persons_in_original_frame_pixels(tmp_path: Path) -> None:
    spec = _save(tmp_path / "det", constant_graph(CANDIDATES, SIZE))
    assert (
        spec.graph.batch is None
        and spec.graph.opset == 17
        and spec.model_id == file_model_id(tmp_path / "det" / DETECTOR_ONNX)
    )
    detector = load_detector(tmp_path / "det", "onnxruntime", batch=2, threads=1)
    frames = [np.zeros((360, 640, 3), np.uint8), np.zeros((192, 160, 3), np.uint8)] * 2 + [
        np.zeros((96, 160, 3), np.uint8)
    ]
    found = detector.detect(frames)
    assert len(found) == 5
    np.testing.assert_allclose(found[0].boxes, [[180, 60, 220, 140], [370, 128, 430, 248]])  # scale .5
    np.testing.assert_allclose(found[0].scores, [0.9, 0.8], rtol=1e-6)
    np.testing.assert_allclose(found[1].boxes, [[10, 36, 30, 76], [105, 70, 135, 130]])  # pad x 80
    np.testing.assert_allclose(found[4].boxes, [[45, 18, 55, 38], [92.5, 35, 107.5, 65]])  # scale 2
    info = detector.describe()
    assert info["backend"] == "onnxruntime" and info["input_size"] == [192, 320] and info["batch"] == 2
    assert info["model_id"] == spec.model_id and info["providers"] == ["CPUExecutionProvider"]


@pytest.mark.parametrize("static", [1, 2])
def test_a_static_batch_graph_is_fed_full_batches(tmp_path: Path, static: int) -> None:
    _save(tmp_path / "det", constant_graph(CANDIDATES, SIZE, batch=static))
    detector = load_detector(tmp_path / "det", "onnxruntime", batch=8, threads=1)
    assert detector.batch == static
    found = detector.detect([np.zeros((192, 320, 3), np.uint8)] * 3)
    assert [len(f) for f in found] == [2, 2, 2]


@pytest.mark.parametrize("static", [None, 2])
def test_prepared_frames_detect_as_the_frames_do(tmp_path: Path, static: int | None) -> None:
    """prepare (letterboxing, on a pipeline's decoding thread) + detect_prepared == detect, any batch."""
    _save(tmp_path / "det", constant_graph(CANDIDATES, SIZE, batch=static or "batch"))
    detector = load_detector(tmp_path / "det", "onnxruntime", batch=2, threads=1)
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(360, 640, 3), (192, 160, 3)] * 2]
    frames.append(rng.integers(0, 256, (96, 160, 3), dtype=np.uint8))
    prepared = [detector.prepare(f) for f in frames]
    box = detector.spec.letterbox
    batch, transforms = letterbox_batch(frames, detector.spec.input_size, box.pad_value, box.center)
    for (pixels, transform), row, expected in zip(prepared, batch, transforms, strict=True):
        np.testing.assert_array_equal(pixels, row)  # the very input detect builds
        assert transform == expected
    found, direct = detector.detect_prepared(prepared), detector.detect(frames)
    assert len(found) == len(direct) == 5
    for a, b in zip(found, direct, strict=True):
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.scores, b.scores)


def test_a_detector_json_with_a_missing_field_names_the_file_and_field(tmp_path: Path) -> None:
    _write_raw(tmp_path / "det", constant_graph(CANDIDATES, SIZE), ["person", "car"])
    fields = json.loads((tmp_path / "det" / DETECTOR_JSON).read_text())
    del fields["score_threshold"]
    fields["letterbox"].pop("center")
    (tmp_path / "det" / DETECTOR_JSON).write_text(json.dumps(fields))
    with pytest.raises(ValueError, match=r"det/detector\.json is not a valid detector spec") as info:
        load_detector(tmp_path / "det", "onnxruntime")
    assert "score_threshold: Field required" in str(info.value)
    assert "letterbox.center: Field required" in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"person_class": 2}, "person_class 2 is outside class_names"),
        ({"input_size": [0, 320]}, "must be two positive integers"),
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_bad_values_in_detector_json_are_named(tmp_path: Path, change: dict, message: str) -> None:
    _write_raw(tmp_path / "det", constant_graph(CANDIDATES, SIZE), ["person", "car"], **change)
    with pytest.raises(ValueError, match=message):
        DetectorSpec.load(tmp_path / "det")


def test_a_replaced_onnx_or_a_missing_spec_is_refused(tmp_path: Path) -> None:
    _save(tmp_path / "det", constant_graph(CANDIDATES, SIZE))
    onnx.save(constant_graph(CANDIDATES * 2, SIZE), str(tmp_path / "det" / DETECTOR_ONNX))
    with pytest.raises(ValueError, match=r"is not the graph detector\.json describes.*import-detector"):
        load_detector(tmp_path / "det", "onnxruntime")
    with pytest.raises(FileNotFoundError, match=r"needs detector\.json beside detector\.onnx"):
        load_detector(tmp_path, "onnxruntime")


@pytest.mark.parametrize(
    ("model", "names", "message"),
    [
        (constant_graph(CANDIDATES, SIZE), ["person"], r"dimension 1 must be 4 \+ 1 classes = 5"),
        (constant_graph(CANDIDATES.T.copy(), SIZE), ["person", "car"], r"looks transposed: \[B, N, 4\+C\]"),
        (
            constant_graph(CANDIDATES.ravel(), SIZE),
            ["person", "car"],
            r"rank 2\); need \[B, 4\+C, N\] = \[B, 6, N\]",
        ),
        (constant_graph(CANDIDATES, (160, 320)), ["person", "car"], r"has H=160; detector\.json input_size"),
    ],
)
def test_a_wrong_output_layout_is_refused_at_load(
    tmp_path: Path, model: onnx.ModelProto, names: list[str], message: str
) -> None:
    _write_raw(tmp_path / "det", model, names)
    with pytest.raises(ValueError, match=message):
        load_detector(tmp_path / "det", "onnxruntime")
    with pytest.raises(ValueError, match=message):  # and it is never written in the first place
        _save(tmp_path / "saved", model, class_names=names)
    assert not (tmp_path / "saved" / DETECTOR_ONNX).exists()


def test_the_dry_run_settles_what_the_graph_leaves_dynamic() -> None:
    spec = DetectorSpec.model_validate(
        {"input_size": SIZE, "class_names": ["person"], "person_class": 0,
         "letterbox": {"pad_value": 114, "center": True}, "score_threshold": 0.25, "nms_iou": 0.45,
         "max_detections": 9, "model_id": "x",
         "graph": {"input": "i", "output": "o", "opset": 17, "batch": None}}
    )  # fmt: skip
    check_dry_run(np.zeros((2, 5, 7), np.float32), 2, spec, "g")
    with pytest.raises(ValueError, match=r"g: dry-run output is \[2, 6, 7\]: dimension 1 must be 4 \+ 1"):
        check_dry_run(np.zeros((2, 6, 7), np.float32), 2, spec, "g")
    with pytest.raises(ValueError, match=r"a batch of 2 gave output \[1, 5, 7\]; need \[2, 5, N>=1\]"):
        check_dry_run(np.zeros((1, 5, 7), np.float32), 2, spec, "g")
    with pytest.raises(ValueError, match="not finite"):
        check_dry_run(np.full((2, 5, 7), np.nan, np.float32), 2, spec, "g")


def test_a_detector_runs_on_onnxruntime_at_fp32_only(tmp_path: Path) -> None:
    _save(tmp_path / "det", constant_graph(CANDIDATES, SIZE))
    with pytest.raises(ValueError, match="runs fp32; fp16 is for tensorrt"):
        load_detector(tmp_path / "det", "onnxruntime", "fp16")
    with pytest.raises(ValueError, match="tensorrt or onnxruntime, not torch"):
        load_detector(tmp_path / "det", "torch")
    auto = load_detector(tmp_path / "det", "auto", device="cpu", threads=1)  # no TensorRT here: ORT CPU
    assert auto.describe()["backend"] == "onnxruntime"


ULTRALYTICS_META = {"names": "{0: 'car', 1: 'person'}", "imgsz": "[192, 320]", "author": "Ultralytics"}


def test_import_reads_ultralytics_metadata_and_finds_the_person_class(tmp_path: Path) -> None:
    swapped = CANDIDATES[[0, 1, 2, 3, 5, 4]]  # score rows now car, person
    source = tmp_path / "yolo.onnx"
    onnx.save(constant_graph(swapped, SIZE, batch=1, metadata=ULTRALYTICS_META), str(source))
    spec = import_detector(source, tmp_path / "det")
    assert (spec.class_names, spec.person_class, spec.input_size) == (["car", "person"], 1, SIZE)
    assert spec.graph.batch == 1 and spec.provenance == {"source": "yolo.onnx", "author": "Ultralytics"}
    found = load_detector(tmp_path / "det", "onnxruntime").detect([np.zeros((192, 320, 3), np.uint8)])
    np.testing.assert_allclose(found[0].boxes, [[90, 36, 110, 76], [185, 70, 215, 130]])


def test_import_without_names_asks_for_them(tmp_path: Path) -> None:
    source = tmp_path / "plain.onnx"
    onnx.save(constant_graph(CANDIDATES, SIZE), str(source))
    with pytest.raises(ValueError, match=r"no 'names' metadata: pass the class names \(--classes"):
        import_detector(source, tmp_path / "det")
    runner = CliRunner()
    args = ["import-detector", str(source), "--out", str(tmp_path / "det"), "--classes", "car,bus"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "no class named 'person'" in result.output
    args[-1] = "person,car"
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["input_size"] == list(SIZE)  # read from the static graph input
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="is not an ONNX model"):
        import_detector(garbage, tmp_path / "det2")

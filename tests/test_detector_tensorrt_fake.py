"""The detector's TensorRT build and runtime against the FAKE tensorrt and pycuda modules (tests/fakes).

It shows the detector goes through the towers' builder, keys, calibrator and plan runner consistently;
nothing here proves TensorRT works.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from detector_helpers import candidates_from, constant_graph
from fakes.fake_pycuda import FakePycudaDriver
from fakes.fake_tensorrt import FakeTensorRT
from PIL import Image

from engine.bundle_files import ENGINES_DIR
from engine.detector import DetectorSpec, load_detector
from engine.detector.tensorrt_build import build_detector_engine
from engine.detector.tensorrt_detector import DETECTOR_PLAN, TensorRTDetector, load_tensorrt_detector
from engine.detector.write import save_detector
from engine.encoder import Precision
from engine.tensorrt.build import BuildOptions
from engine.tensorrt.keys import PlanMeta
from training.detector.export import export_detector
from training.detector.model import TinyDetector

SIZE = (64, 96)
CANDIDATES = candidates_from([(30, 20, 10, 20, [0.9]), (60, 40, 12, 16, [0.7]), (31, 21, 10, 20, [0.6])])
FRAMES = [np.zeros((128, 192, 3), np.uint8), np.zeros((64, 48, 3), np.uint8), np.zeros((32, 48, 3), np.uint8)]


def _fakes(version: str = "10.3.0", gpu: str = "Fake Orin") -> tuple[FakeTensorRT, FakePycudaDriver]:
    cuda = FakePycudaDriver(gpu_name=gpu)
    return FakeTensorRT(version, cuda), cuda


def _detector_dir(directory: Path, model: onnx.ModelProto | None = None) -> Path:
    save_detector(
        model or constant_graph(CANDIDATES, SIZE),
        directory,
        input_size=SIZE,
        class_names=["person"],
        person_class=0,
    )
    return directory


def _on_fake(
    directory: Path, modules: tuple[FakeTensorRT, FakePycudaDriver], precision: str, batch: int
) -> TensorRTDetector:
    spec = DetectorSpec.load(directory)
    return load_tensorrt_detector(directory, spec, Precision(precision), "cuda", batch, modules)


@pytest.mark.parametrize("version", ["10.3.0", "8.6.1"])
def test_fp16_plan_is_keyed_for_the_detector_and_matches_onnxruntime(tmp_path: Path, version: str) -> None:
    directory = _detector_dir(tmp_path / "det")
    trt, cuda = _fakes(version)
    meta = build_detector_engine(directory, Precision.FP16, 4, trt, cuda)
    assert meta.key == f"trt{version}-fake-orin-sm87-fp16-detector-64x96-b4"
    assert {p.name for p in meta.directory.iterdir()} == {DETECTOR_PLAN, "plan.json"}
    assert PlanMeta.load(meta.directory).model_id == DetectorSpec.load(directory).model_id
    (build,) = trt.builds
    assert build["profile"]["images"] == [[1, 3, 64, 96], [4, 3, 64, 96], [4, 3, 64, 96]]
    assert {"FP16", "OBEY_PRECISION_CONSTRAINTS"} <= set(build["flags"]) and "INT8" not in build["flags"]

    detector = _on_fake(directory, (trt, cuda), "fp16", 8)
    reference = load_detector(directory, "onnxruntime", threads=1)
    assert detector.batch == 4 and detector.describe()["plan"] == meta.key
    assert detector.describe()["backend"] == "tensorrt" and detector.describe()["precision"] == "fp16"
    for got, want in zip(detector.detect(FRAMES * 2), reference.detect(FRAMES * 2), strict=True):
        np.testing.assert_allclose(got.boxes, want.boxes, atol=1e-5)
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-6)
    assert len(reference.detect(FRAMES)[0]) == 2  # the third box overlaps the first: NMS took it
    assert detector.runner.context.calls[-2:] == [(4, 3, 64, 96), (2, 3, 64, 96)]  # 6 frames in 4 + 2
    assert cuda.context_depth == 0


def test_a_static_batch_graph_gets_a_plan_of_its_own_batch(tmp_path: Path) -> None:
    directory = _detector_dir(tmp_path / "det", constant_graph(CANDIDATES, SIZE, batch=1))
    trt, cuda = _fakes()
    meta = build_detector_engine(directory, Precision.FP16, 16, trt, cuda)
    assert meta.key.endswith("-detector-64x96-b1") and meta.max_batch == 1
    assert trt.builds[0]["profile"]["images"] == [[1, 3, 64, 96]] * 3
    detector = _on_fake(directory, (trt, cuda), "fp16", 16)
    assert detector.batch == 1 and [len(d) for d in detector.detect(FRAMES)] == [2, 2, 2]


def test_int8_calibrates_on_letterboxed_frames_and_reuses_the_cache(tmp_path: Path) -> None:
    directory = _detector_dir(tmp_path / "det")
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(9):
        Image.fromarray(rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)).save(frames / f"{i}.jpg")
    with pytest.raises(ValueError, match="needs --calibration-dir: a folder of camera frames"):
        build_detector_engine(directory, Precision.INT8, 4, *_fakes())
    trt, cuda = _fakes()
    options = BuildOptions(calibration_dir=frames, calibration_batch=4)
    meta = build_detector_engine(directory, Precision.INT8, 4, trt, cuda, options)
    assert trt.builds[0]["calibrated_batches"] == 2 and "INT8" in trt.builds[0]["flags"]  # 9 frames, by 4
    assert cuda.memory == {} and cuda.context_depth == 0
    spec = DetectorSpec.load(directory)
    cache = directory / ENGINES_DIR / f"calibration-{spec.model_id}-trt10.3.0.cache"
    assert cache.read_bytes() == b"FAKE-CALIBRATION" and meta.key.startswith("trt10.3.0-fake-orin-sm87-int8-")
    trt2, cuda2 = _fakes()
    build_detector_engine(directory, Precision.INT8, 8, trt2, cuda2)  # no frames needed: the cache is there
    assert trt2.builds[0]["calibrated_batches"] == 0


def test_plans_of_another_graph_gpu_or_tensorrt_are_refused(tmp_path: Path) -> None:
    directory = _detector_dir(tmp_path / "det")
    build_detector_engine(directory, Precision.FP16, 4, *_fakes())
    with pytest.raises(FileNotFoundError, match="built on Fake Orin sm87, this is Fake Thor sm87"):
        _on_fake(directory, _fakes(gpu="Fake Thor"), "fp16", 4)
    with pytest.raises(FileNotFoundError, match=rf"person-search build-engine {directory} --precision int8"):
        _on_fake(directory, _fakes(), "int8", 4)
    _detector_dir(directory, constant_graph(CANDIDATES * 0.5, SIZE))  # a new graph in the same directory
    with pytest.raises(FileNotFoundError, match="built from model"):
        _on_fake(directory, _fakes(), "fp16", 4)


def test_tensorrt_86_refuses_an_opset_18_detector(tmp_path: Path) -> None:
    directory = _detector_dir(tmp_path / "det", constant_graph(CANDIDATES, SIZE, opset=18))
    with pytest.raises(RuntimeError, match=r"detector\.onnx is ONNX opset 18 .* up to 17"):
        build_detector_engine(directory, Precision.FP16, 4, *_fakes("8.6.1"))
    assert build_detector_engine(directory, Precision.FP16, 4, *_fakes("10.3.0")).max_batch == 4


def test_the_exported_demo_detector_builds_and_runs_through_the_fake(tmp_path: Path) -> None:
    torch.manual_seed(0)
    spec = export_detector(TinyDetector(width=8), tmp_path / "det", (32, 64), {"made_by": "test"})
    assert (spec.graph.opset, spec.graph.batch, spec.graph.input) == (17, None, "images")
    trt, cuda = _fakes("8.6.1")
    meta = build_detector_engine(tmp_path / "det", Precision.FP16, 2, trt, cuda)
    assert meta.key == "trt8.6.1-fake-orin-sm87-fp16-detector-32x64-b2"
    on_plan = _on_fake(tmp_path / "det", (trt, cuda), "fp16", 2)
    reference = load_detector(tmp_path / "det", "onnxruntime", threads=1)
    x = np.random.default_rng(0).random((2, 3, 32, 64), dtype=np.float32)
    np.testing.assert_allclose(on_plan._run(x), reference._run(x), atol=1e-5)
    assert on_plan._run(x).shape == (2, 5, 32)  # (32 / 8) * (64 / 8) cells

"""The camera benchmarks in their quick mode (tiny scenes, untrained tiny models), their accounting, the
ONNX FLOP count and the headline rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bench import (
    camera_crops,
    camera_pipeline,
    camera_search,
    camera_streams,
    cross_camera,
    onnx_flops,
    plan,
    table,
)
from bench.camera_common import SceneSpec, ground_truth, identity_of, iou, scenes, videos, visible_persons
from bench.plan import Mode


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One work directory for the module: the tiny scenes and models are made once."""
    return tmp_path_factory.mktemp("bench-cameras")


def quick(name: str, workdir: Path) -> dict[str, Any]:
    """The quick-mode arguments the suite gives benchmark `name`, in this work directory."""
    kwargs = plan.BY_NAME[name].kwargs(Mode.QUICK, workdir.parent)
    return {**kwargs, "workdir": str(workdir)}


def _graph() -> onnx.ModelProto:
    """x [B, 3, 8, 8] -> Conv 3x3 (4 out, pad 1) -> Reshape [B, 16, 16] -> MatMul [16, 5] -> Gemm."""
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    shape = numpy_helper.from_array(np.array([0, 16, 16], np.int64), "shape")
    m = numpy_helper.from_array(np.ones((16, 5), np.float32), "m")
    flat = numpy_helper.from_array(np.array([0, 80], np.int64), "flat")
    g = numpy_helper.from_array(np.ones((7, 80), np.float32), "g")  # transB: (N, K)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("Reshape", ["c", "shape"], ["r"], name="reshape"),
        helper.make_node("MatMul", ["r", "m"], ["mm"], name="matmul"),
        helper.make_node("Reshape", ["mm", "flat"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "g"], ["y"], transB=1, name="gemm"),
    ]
    graph = helper.make_graph(
        nodes,
        "flops",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", 7])],
        [w, shape, m, flat, g],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_onnx_flops_counts_each_product_from_inferred_shapes() -> None:
    one = onnx_flops.count(_graph(), batch=1)
    conv, matmul, gemm = 2 * 4 * 8 * 8 * (3 * 3 * 3), 2 * 16 * 5 * 16, 2 * 7 * 80
    assert one["per_op"] == {"Conv": conv, "MatMul": matmul, "Gemm": gemm}
    assert one["flops"] == conv + matmul + gemm and one["nodes_counted"] == 3
    assert onnx_flops.count(_graph(), batch=3)["flops"] == 3 * one["flops"]


def test_box_matching_and_visibility() -> None:
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    truth = {0: [(7, (0.0, 0.0, 10.0, 20.0)), (8, (4.0, 0.0, 14.0, 20.0))], 1: [(7, (0.0, 0.0, 10.0, 20.0))]}
    assert identity_of((3.0, 0.0, 13.0, 20.0), 0, truth) == 8  # overlaps both, 8 more
    assert identity_of((30.0, 0.0, 40.0, 20.0), 0, truth) is None
    assert visible_persons(truth, fps=2.0) == {7} and visible_persons(truth, fps=1.0) == {7, 8}


def test_coverage_and_per_identity_recall() -> None:
    pixels = np.zeros((2, 2, 3), np.uint8)
    shots = [camera_crops.Shot("a", 0, pixels, 1), camera_crops.Shot("b", 0, pixels, None)]
    assert camera_crops.coverage(shots, {("a", 1), ("a", 2), ("b", 1)}) == pytest.approx(1 / 3)
    gallery = np.eye(3, dtype=np.float32)  # crops of persons 1, 2, and nobody
    texts = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], np.float32)  # 1 -> crop 0, 1 -> crop 2, 2 -> 1
    recall = camera_crops.recall_at_1(texts, [1, 1, 2], gallery, [1, 2, None])
    assert recall == {1: 0.5, 2: 1.0}
    assert camera_crops.recall_at_1(texts, [1, 1, 2], gallery[:0], []) == {1: 0.0, 2: 0.0}


def test_quick_pipeline_against_decode_and_detector_alone(workdir: Path) -> None:
    out = camera_pipeline.run(**quick("camera_pipeline", workdir))
    (row,) = out["rows"]
    rates = row["frames_per_s"]
    assert all(rates[k] > 0 for k in ("decode", "detector", "pipeline"))
    slower = min(rates["decode"], rates["detector"])
    assert row["pipeline_over_slowest"] == pytest.approx(rates["pipeline"] / slower, abs=2e-3)
    assert rates[row["slowest_alone"]] == slower and row["detector_threads"] == 1
    assert all(0 < row["cores_used"][k] <= 16 for k in rates)


def test_quick_crops_with_the_ground_truth_as_detector(workdir: Path) -> None:
    args = quick("camera_crops", workdir)
    out = camera_crops.run(**args)
    data = scenes(workdir, SceneSpec(**args["scene"]))
    boxes = sum(len(rows) for camera, _ in videos(data) for rows in ground_truth(data, camera).values())
    best, every = out["galleries"]["best crops"], out["galleries"]["every detection"]
    assert every["encodes"] == boxes  # one encode per gt box of every frame
    assert every["coverage"] == 1.0 and every["unmatched_crops"] == best["unmatched_crops"] == 0
    assert 0 < best["encodes"] <= 3 * out["persons_visible_1s"] * 4  # K per track, a few tracks each
    assert best["coverage"] >= 0.9 and out["fewer_encodes"] == round(boxes / best["encodes"], 1)
    for gallery in (best, every):
        assert 0.0 <= gallery["text_R1_per_identity"] <= 100.0


def test_quick_streams_per_core_and_the_flop_count(workdir: Path) -> None:
    out = camera_streams.run(**quick("camera_streams", workdir))
    ms = out["cpu_ms_per_frame"]
    assert out["frames"] == 80 and all(ms[k] > 0 for k in ("decode", "detect", "track_and_crops"))
    assert out["streams_per_core"] == pytest.approx(100 / (ms["detect"] + ms["track_and_crops"]), rel=0.01)
    assert out["streams_per_core_with_decode"] < out["streams_per_core"]
    # the untrained TinyDetector(width=8) at 96x160, by hand: (c_in x 3 x 3 x c_out) per output pixel
    layers = [(3, 16, 48 * 80), (16, 32, 24 * 40), (32, 8, 12 * 20), (8, 16, 6 * 10), (16, 16, 6 * 10),
              (16, 8, 6 * 10), (8, 8, 12 * 20), (8, 8, 12 * 20)]  # fmt: skip
    macs = sum(c_in * 9 * c_out * pixels for c_in, c_out, pixels in layers) + 8 * 5 * 12 * 20  # + 1x1 head
    assert out["detector_flops_per_op"] == {"Conv": 2 * macs}
    estimate = out["orin_estimate"]
    assert "ESTIMATE" in estimate["label"] and 0 < estimate["share_of_peak"] <= 1
    nano, agx = estimate["rows"][0], estimate["rows"][-1]
    assert agx["estimated_frames_per_s"] / nano["estimated_frames_per_s"] == pytest.approx(
        (2048 * 1.3) / (1024 * 0.625), rel=0.01
    )


@pytest.mark.slow
def test_quick_search_with_a_camera_streaming_over_rtsp(workdir: Path) -> None:
    out = camera_search.run(**quick("camera_search", workdir))
    none, camera = out["search"]["none"], out["search"]["one camera"]
    assert none["n"] >= 15 and camera["n"] >= 15
    assert out["p99_camera_over_none"] == pytest.approx(camera["p99_ms"] / none["p99_ms"], abs=2e-3)
    for phase in ("none", "one camera"):  # the server's own stage times, read from every response
        stages = out["server_stage_p99_ms"][phase]
        assert {"encode", "search", "total"} <= set(stages)
        assert stages["total"] <= out["search"][phase]["p99_ms"]  # inside the handler, before HTTP
    (seen,) = out["cameras"]
    assert seen["frames"] > 0 and seen["last_error"] is None  # it streamed while we searched


def test_camera_rows_in_the_headline_table() -> None:
    rates = {"decode": 200.0, "detector": 50.0, "pipeline": 45.0}
    pipe = {"rows": [{"detector_threads": 1, "frames_per_s": rates, "slowest_alone": "detector",
                      "pipeline_over_slowest": 0.9}]}  # fmt: skip
    gallery = {"coverage": 0.97, "text_R1_per_identity": 40.0}
    crops = {
        "persons_visible_1s": 30,
        "crops_per_track": 3,
        "fewer_encodes": 25.0,
        "galleries": {
            "best crops": {**gallery, "encodes": 100},
            "every detection": {**gallery, "encodes": 2500},
        },
    }
    search = {"search": {"none": {"p99_ms": 20.0}, "one camera": {"p99_ms": 25.0}}}
    estimate = {
        "label": "ESTIMATE x",
        "share_of_peak": 0.3,
        "rows": [
            {
                "module": "Orin Nano 8GB",
                "fp32_tflops": 1.28,
                "estimated_frames_per_s": 1234,
                "estimated_streams": 123,
                "streams_at_full_peak": 400,
            }
        ],
    }
    streams = {"streams_per_core": 2.5, "streams_per_core_with_decode": 2.0, "detector_gflop_per_frame": 1.0,
               "cpu_ms_per_frame": {"detect": 30.0, "track_and_crops": 10.0, "decode": 10.0},
               "orin_estimate": estimate}  # fmt: skip
    found = {"pipeline": pipe, "crops": crops, "search": search, "streams": streams}
    results = {"benchmarks": {f"camera_{k}": {"result": v} for k, v in found.items()}}
    pipeline, encodes, searched, per_core = table.headline(results)
    assert pipeline["ratio"] == "0.90x of the slower alone" and "50.0 (detector alone" in pipeline["baseline"]
    assert encodes["factor"] == 25.0 and "coverage 0.97" in encodes["ours"] and "2500" in encodes["baseline"]
    assert searched["ratio"] == "1.25x slower" and searched["ours"].startswith("25.0")
    assert per_core["factor"] is None and per_core["ours"].startswith("2.5 (detect 30.0")
    lines = table.camera_orin_lines(results)
    assert any("ESTIMATE x" in line for line in lines) and "| Orin Nano 8GB | 1.28 TFLOPS | ~1,234 |" in (
        "\n".join(lines)
    )
    assert table.camera_rows({"benchmarks": {}}) == []


def test_quick_cross_camera_search_by_example_beats_chance(workdir: Path) -> None:
    out = cross_camera.run(**quick("cross_camera", workdir))
    ((name, row),) = out["models"].items()  # quick: the untrained PS-Micro only
    assert name == "untrained PS-Micro" and row["queries"] >= 20 and 0 < row["chance"] < 1
    assert row["rate"] > row["chance"] and row["hits"] == round(row["rate"] * row["queries"])
    assert "x chance" in cross_camera.table(out)

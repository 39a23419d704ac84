"""ONNX export: dynamic batch and token length, parity with torch every time, FP16 and INT8 reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import helper
from typer.testing import CliRunner

from cli import app
from engine import export as export_module
from engine import onnx_towers
from engine.bundle import load_bundle, save_bundle
from engine.export import ExportOptions, export_bundle, exported_for
from engine.graph_io import Tower, onnx_path
from engine.model import create_model
from engine.onnx_towers import down_convert, export_tower, graph_opset
from engine.parity import (
    PARITY_MAX_ABS,
    PARITY_MIN_COSINE,
    compare,
    fp16_agreement,
    image_samples,
    text_samples,
)
from engine.spec import ModelSpec
from engine.towers import TextTower


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def test_graphs_are_checked_named_and_dynamic(exported_bundle: Path) -> None:
    spec = ModelSpec.load(exported_bundle)
    for tower, name, elem in (
        (Tower.IMAGE, "pixels", onnx.TensorProto.FLOAT),
        (Tower.TEXT, "ids", onnx.TensorProto.INT64),
    ):
        model = onnx.load(onnx_path(exported_bundle, tower))
        onnx.checker.check_model(model, full_check=True)
        (graph_input,), (graph_output,) = model.graph.input, model.graph.output
        assert (graph_input.name, graph_output.name) == (name, "embedding")
        assert graph_input.type.tensor_type.elem_type == elem
        assert isinstance(_dims(graph_input)[0], str) and isinstance(_dims(graph_output)[0], str)
        assert _dims(graph_output)[1] == spec.embed_dim
        assert spec.export[tower]["opset"] == graph_opset(model) == 17
    assert isinstance(_dims(onnx.load(onnx_path(exported_bundle, Tower.TEXT)).graph.input[0])[1], str)
    assert exported_for(spec) and spec.model_id == ModelSpec.load(exported_bundle).model_id


def test_parity_is_recorded_within_tolerance(exported_bundle: Path) -> None:
    record = ModelSpec.load(exported_bundle).export
    for tower in Tower:
        parity = record[tower]["parity"]
        assert parity["max_abs_diff"] <= PARITY_MAX_ABS and parity["min_cosine"] >= PARITY_MIN_COSINE
        assert len(parity["cases"]) >= 3
        assert record[tower]["fp16"]["safe"] and record[tower]["fp16"]["min_cosine"] > 0.999
        assert record[tower]["int8"]["ok"] and onnx_path(exported_bundle, tower, int8=True).is_file()
    text_cases = record["text"]["parity"]["cases"]
    assert {c[1] for c in text_cases} >= {2, 24} and len({c[0] for c in text_cases}) > 1


def test_text_graph_runs_every_token_length(exported_bundle: Path, eot_id: int) -> None:
    model, spec = load_bundle(exported_bundle)
    session = ort.InferenceSession(
        str(onnx_path(exported_bundle, Tower.TEXT)), providers=["CPUExecutionProvider"]
    )
    shapes = [(2, n) for n in range(1, spec.context_length + 1)]
    samples = text_samples(spec.context_length, shapes, eot_id)
    with torch.inference_mode():
        want = [TextTower(model, eot_id)(torch.from_numpy(s)).numpy() for s in samples]
    got = [session.run(None, {"ids": s})[0] for s in samples]
    agreement = compare(want, got, samples)
    assert agreement.passes(PARITY_MAX_ABS, PARITY_MIN_COSINE), agreement


def test_export_fails_loudly_when_parity_breaks(
    micro_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(micro_bundle, bundle)
    real = export_module.onnx_outputs

    def skewed(path: Path, name: str, samples: list[np.ndarray]) -> list[np.ndarray]:
        return [out + 1e-3 for out in real(path, name, samples)]

    monkeypatch.setattr(export_module, "onnx_outputs", skewed)
    with pytest.raises(ValueError, match=r"image ONNX parity with torch failed: max abs diff 0\.001"):
        export_bundle(bundle, ExportOptions(int8=False, fp16_check=False))
    assert ModelSpec.load(bundle).export == {}


def test_tower_stays_at_18_when_down_conversion_fails(
    micro_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, eot_id: int
) -> None:
    def refuse(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
        raise RuntimeError("no adapter")

    monkeypatch.setattr(onnx_towers, "down_convert", refuse)
    clip, spec = load_bundle(micro_bundle)
    path = tmp_path / "image.onnx"
    graph = export_tower(clip, Tower.IMAGE, path, spec.image_size, spec.context_length, eot_id, 17)
    assert graph.opset == 18 == graph_opset(onnx.load(graph.path))
    assert "no adapter" in graph.notes[0]


def test_down_convert_drops_reduce_attribute_invalid_below_18() -> None:
    axes = helper.make_tensor("axes", onnx.TensorProto.INT64, [1], [1])
    node = helper.make_node("ReduceL2", ["x", "axes"], ["y"], keepdims=1, noop_with_empty_axes=0)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["b", 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["b", 1])],
        [axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    converted = down_convert(model, 17)
    assert graph_opset(converted) == 17
    assert {a.name for a in converted.graph.node[0].attribute} == {"keepdims", "axes"}
    x = np.array([[3.0, 4.0, 0.0, 0.0]], np.float32)
    session = ort.InferenceSession(converted.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"x": x})[0], [[5.0]])


def test_fp16_check_catches_an_overflow() -> None:
    class Overflowing(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.normalize(x * 300.0 * x * 300.0, dim=-1)  # > 65504 in half

    samples = image_samples((4, 4), [2])
    agreement = fp16_agreement(Overflowing(), [s.reshape(2, -1) for s in samples])
    assert not agreement.passes(None, 0.99) and agreement.min_cosine == -1.0


def test_cli_export_passes_options_and_prints_opsets_and_parity(
    exported_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ExportOptions] = []

    def recorded(bundle: Path, options: ExportOptions) -> ModelSpec:
        seen.append(options)
        return ModelSpec.load(bundle)

    monkeypatch.setattr(export_module, "export_bundle", recorded)
    args = ["export", str(exported_bundle), "--no-int8", "--no-fp16-check", "--opset", "18"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen == [ExportOptions(opset=18, int8=False, fp16_check=False)]
    summary = json.loads(result.output)
    assert summary["image"]["opset"] == summary["text"]["opset"] == 17
    assert summary["text"]["parity"]["min_cosine"] >= PARITY_MIN_COSINE and summary["text"]["int8"] > 0.99


@pytest.mark.slow
def test_vit_b16_at_person_size_exports_and_passes_parity(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, spec = create_model("ViT-B-16")
    assert spec.image_size == (384, 128) and spec.context_length == 77
    save_bundle(model, spec, tmp_path)
    del model
    saved = export_bundle(tmp_path, ExportOptions(int8=False, fp16_check=False, image_batches=(1, 3)))
    for tower in Tower:
        parity = saved.export[tower]["parity"]
        assert parity["max_abs_diff"] <= PARITY_MAX_ABS and parity["min_cosine"] >= PARITY_MIN_COSINE
        assert saved.export[tower]["opset"] in (17, 18)
    assert [4, 77] in saved.export["text"]["parity"]["cases"]

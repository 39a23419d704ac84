"""clean_graph: the exported towers and a hand-built detector stand-in, against the rules TensorRT's parser
imposes; the FAKE TensorRT parser (tests/fakes) refuses the same graphs the real one does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from fakes.fake_pycuda import FakePycudaDriver
from fakes.fake_tensorrt import FakeTensorRT
from onnx import TensorProto, helper, numpy_helper

from engine import onnx_towers
from engine.bundle import load_bundle
from engine.graph_io import Tower, onnx_path
from engine.onnx_clean import check_trt_ready, clean_graph
from engine.onnx_towers import export_tower
from engine.tensorrt.versions import network_flags

VERSIONS = ["8.6.1", "10.3.0"]


def _fake_parse(model: onnx.ModelProto, version: str, tmp_path: Path) -> list[str]:
    """The errors of the fake TensorRT parser of one version on a graph ([] when it parses)."""
    path = tmp_path / f"parse-{version}.onnx"
    onnx.save(model, str(path))
    trt = FakeTensorRT(version, FakePycudaDriver())
    logger = trt.Logger()
    parser = trt.OnnxParser(trt.Builder(logger).create_network(network_flags(trt, version)), logger)
    ok = parser.parse_from_file(str(path))
    errors = [parser.get_error(i) for i in range(parser.num_errors)]
    assert ok == (not errors)
    return errors


def _detector(
    norm_outputs: tuple[str, ...] = ("normed",),
    extra_nodes: tuple[onnx.NodeProto, ...] = (),
    extra_outputs: tuple[str, ...] = (),
    functions: tuple[onnx.FunctionProto, ...] = (),
    domains: tuple[tuple[str, int], ...] = (),
) -> onnx.ModelProto:
    """A detector stand-in: images [1, 3, 8, 8] -> Conv -> (1, 5, 64) -> LayerNormalization -> Sigmoid."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((5, 3, 1, 1)).astype(np.float32), "w"),
        numpy_helper.from_array(np.array([1, 5, 64], np.int64), "flat"),
        numpy_helper.from_array(np.ones(64, np.float32), "scale"),
        numpy_helper.from_array(np.zeros(64, np.float32), "bias"),
    ]
    nodes = [
        helper.make_node("Conv", ["images", "w"], ["features"], name="conv"),
        helper.make_node("Reshape", ["features", "flat"], ["boxes"], name="flatten"),
        helper.make_node(
            "LayerNormalization", ["boxes", "scale", "bias"], list(norm_outputs), name="norm", axis=-1
        ),
        helper.make_node("Sigmoid", ["normed"], ["output0"], name="score"),
        *extra_nodes,
    ]
    outputs = [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 5, 64])]
    outputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in extra_outputs]
    graph = helper.make_graph(
        nodes,
        "detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
        outputs,
        inits,
        value_info=[helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in norm_outputs[1:]],
    )
    imports = [helper.make_opsetid("", 17), *(helper.make_opsetid(d, v) for d, v in domains)]
    return helper.make_model(graph, opset_imports=imports, functions=list(functions), ir_version=8)


def _run(model: onnx.ModelProto) -> np.ndarray:
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(["output0"], {"images": x})[0])


# ---- the exported CLIP towers --------------------------------------------------------------------------


@pytest.mark.parametrize("tower", list(Tower))
def test_exported_towers_are_clean_and_parse_on_both_fake_versions(
    exported_bundle: Path, tower: Tower, tmp_path: Path
) -> None:
    model = onnx.load(onnx_path(exported_bundle, tower))
    check_trt_ready(model)
    assert not model.functions and {o.domain for o in model.opset_import} <= {"", "ai.onnx"}
    norms = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
    assert norms and all(len(n.output) == 1 for n in norms)
    before = model.SerializeToString()
    assert clean_graph(model).SerializeToString() == before  # nothing left to trim
    for version in VERSIONS:
        assert _fake_parse(model, version, tmp_path) == []


def _with_norm_stats(graph_reads_mean: bool) -> Callable[..., onnx.ModelProto]:
    """A wrapper of the real tracer that makes its first LayerNormalization declare Mean and InvStdDev."""
    real = onnx_towers._trace

    def traced(*args: Any, **kwargs: Any) -> onnx.ModelProto:
        model = real(*args, **kwargs)
        norm = next(n for n in model.graph.node if n.op_type == "LayerNormalization")
        norm.output.extend(["norm_mean", "norm_invstd"])
        model.graph.value_info.append(helper.make_tensor_value_info("norm_mean", TensorProto.FLOAT, None))
        if graph_reads_mean:
            model.graph.output.append(helper.make_tensor_value_info("norm_mean", TensorProto.FLOAT, None))
        return model

    return traced


@pytest.mark.parametrize("tower", list(Tower))
def test_export_trims_layer_norm_statistics_the_tracer_declared(
    micro_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tower: Tower, eot_id: int
) -> None:
    monkeypatch.setattr(onnx_towers, "_trace", _with_norm_stats(graph_reads_mean=False))
    clip, spec = load_bundle(micro_bundle)
    path = tmp_path / f"{tower}.onnx"
    export_tower(clip, tower, path, spec.image_size, spec.context_length, eot_id)
    model = onnx.load(path)
    norms = [n for n in model.graph.node if n.op_type == "LayerNormalization"]
    assert all(len(n.output) == 1 for n in norms)
    assert "norm_mean" not in {v.name for v in model.graph.value_info}
    assert _fake_parse(model, "8.6.1", tmp_path) == []


def test_export_refuses_a_graph_that_reads_layer_norm_statistics(
    micro_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, eot_id: int
) -> None:
    monkeypatch.setattr(onnx_towers, "_trace", _with_norm_stats(graph_reads_mean=True))
    clip, spec = load_bundle(micro_bundle)
    path = tmp_path / "text.onnx"
    with pytest.raises(ValueError, match=r"LayerNormalization\) has optional outputs \['norm_mean'\]"):
        export_tower(clip, Tower.TEXT, path, spec.image_size, spec.context_length, eot_id)
    assert not path.exists() and not list(tmp_path.iterdir())


# ---- a hand-built detector stand-in --------------------------------------------------------------------


def test_layer_norm_statistics_nobody_reads_are_trimmed(tmp_path: Path) -> None:
    declared = _detector(norm_outputs=("normed", "mean", "invstd"))
    for version in VERSIONS:
        assert "more output tensors than TRT expected" in _fake_parse(declared, version, tmp_path)[0]
    with pytest.raises(ValueError, match=r"'norm' \(LayerNormalization\) declares 3 outputs"):
        check_trt_ready(declared)
    want = _run(declared)
    path = tmp_path / "detector.onnx"
    onnx.save(declared, str(path))
    cleaned = clean_graph(path)  # a path is loaded, cleaned and returned
    norm = next(n for n in cleaned.graph.node if n.op_type == "LayerNormalization")
    assert list(norm.output) == ["normed"]
    assert not {"mean", "invstd"} & {v.name for v in cleaned.graph.value_info}
    onnx.checker.check_model(cleaned, full_check=True)
    np.testing.assert_array_equal(_run(cleaned), want)
    for version in VERSIONS:
        assert _fake_parse(cleaned, version, tmp_path) == []


def test_layer_norm_statistics_that_are_read_are_refused_by_name(tmp_path: Path) -> None:
    reads_mean = helper.make_node("Identity", ["mean"], ["mean_copy"], name="keep_mean")
    model = _detector(norm_outputs=("normed", "mean", "invstd"), extra_nodes=(reads_mean,))
    with pytest.raises(
        ValueError, match=r"node 'norm' \(LayerNormalization\) has optional outputs \['mean'\]"
    ):
        clean_graph(model)
    as_output = _detector(norm_outputs=("normed", "", "invstd"), extra_outputs=("invstd",))
    with pytest.raises(ValueError, match=r"optional outputs \['invstd'\]"):
        clean_graph(as_output)
    for version in VERSIONS:
        assert "more output tensors" in _fake_parse(as_output, version, tmp_path)[0]


def test_custom_domain_nodes_are_refused_and_unused_imports_dropped(tmp_path: Path) -> None:
    decode = helper.make_node("DecodeBoxes", ["output0"], ["decoded"], name="decode", domain="com.example")
    custom = _detector(extra_nodes=(decode,), extra_outputs=("decoded",), domains=(("com.example", 1),))
    with pytest.raises(
        ValueError, match=r"node 'decode' \(com\.example::DecodeBoxes\) is in the custom domain"
    ):
        clean_graph(custom)
    for version in VERSIONS:
        assert "No importer registered for op: DecodeBoxes" in _fake_parse(custom, version, tmp_path)[0]
    unused = _detector(domains=(("com.example", 1), ("ai.onnx.ml", 3)))
    cleaned = clean_graph(unused)
    assert [(o.domain, o.version) for o in cleaned.opset_import] == [("", 17)]
    bare = _detector(domains=(("com.example", 1),))
    with pytest.raises(ValueError, match=r"imports custom opset domains \['com\.example'\]"):
        check_trt_ready(bare)  # the check alone does not trim


def test_local_functions_are_refused_naming_them(tmp_path: Path) -> None:
    swish = helper.make_function(
        "local",
        "Swish",
        ["x"],
        ["y"],
        [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])],
        [helper.make_opsetid("", 17)],
    )
    call = helper.make_node("Swish", ["output0"], ["activated"], name="act", domain="local")
    model = _detector(
        extra_nodes=(call,), extra_outputs=("activated",), functions=(swish,), domains=(("local", 1),)
    )
    _run(model)  # valid ONNX: ONNX Runtime runs it
    with pytest.raises(ValueError, match=r"local functions \['local::Swish'\].*inline"):
        clean_graph(model)
    assert "local function 'Swish'" in _fake_parse(model, "8.6.1", tmp_path)[0]
    assert _fake_parse(model, "10.3.0", tmp_path) == []  # TensorRT 9.0 and later read local functions

"""ONNX graphs TensorRT's parser reads: trim the optional parts it refuses, refuse what cannot be trimmed.

TensorRT 8.6 and 10.x refuse a `LayerNormalization` that declares its optional Mean/InvStdDev outputs
("Node has more output tensors than TRT expected", NVIDIA/TensorRT#3457), nodes of custom domains (no
importer; a plugin would be needed) and, on 8.6, local functions (the parser reads them from 9.0 on).
Every graph the engine exports goes through `clean_graph`: both CLIP towers, and any detector.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import onnx

DEFAULT_DOMAINS = ("", "ai.onnx")
# op type -> how many leading outputs TensorRT's importer produces; the optional rest must be absent
TRT_OUTPUTS = {"LayerNormalization": 1}


def _subgraphs(node: onnx.NodeProto) -> Iterator[onnx.GraphProto]:
    """The graphs held in a node's attributes (If branches, Loop and Scan bodies)."""
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == onnx.AttributeProto.GRAPHS:
            yield from attr.graphs


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """A graph and every graph nested inside it."""
    yield graph
    for node in graph.node:
        for sub in _subgraphs(node):
            yield from _graphs(sub)


def _nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """Every node of a graph and of the graphs nested inside it."""
    for g in _graphs(graph):
        yield from g.node


def _consumed(graph: onnx.GraphProto) -> set[str]:
    """Names read anywhere: node inputs (nested graphs see outer names) and graph outputs."""
    names = {name for node in _nodes(graph) for name in node.input}
    return names | {out.name for g in _graphs(graph) for out in g.output}


def _label(node: onnx.NodeProto) -> str:
    """How an error names a node: its name and op (name alone can be empty)."""
    domain = f"{node.domain}::" if node.domain not in DEFAULT_DOMAINS else ""
    return f"node {node.name or '<unnamed>'!r} ({domain}{node.op_type})"


def _trim_outputs(model: onnx.ModelProto) -> None:
    """Drop optional outputs TensorRT refuses when nothing reads them; raise naming any that is read."""
    consumed = _consumed(model.graph)
    dropped: set[str] = set()
    for node in _nodes(model.graph):
        keep = TRT_OUTPUTS.get(node.op_type) if node.domain in DEFAULT_DOMAINS else None
        if keep is None or len(node.output) <= keep:
            continue
        read = [name for name in node.output[keep:] if name and name in consumed]
        if read:
            raise ValueError(
                f"{_label(node)} has optional outputs {read} that the graph reads; TensorRT's parser "
                f"accepts {keep} output(s) for {node.op_type}: export without using them"
            )
        dropped.update(name for name in node.output[keep:] if name)
        del node.output[keep:]
    for g in _graphs(model.graph):
        kept = [v for v in g.value_info if v.name not in dropped]
        del g.value_info[:]
        g.value_info.extend(kept)


def _drop_unused_imports(model: onnx.ModelProto) -> None:
    """Remove opset imports of non-default domains that no node uses (exporters leave some behind)."""
    used = {node.domain for node in _nodes(model.graph)}
    kept = [o for o in model.opset_import if o.domain in DEFAULT_DOMAINS or o.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)


def check_trt_ready(model: onnx.ModelProto) -> None:
    """Raise a ValueError naming the first thing TensorRT's parser would refuse in this graph."""
    if model.functions:
        names = [f"{f.domain}::{f.name}" for f in model.functions]
        raise ValueError(
            f"the graph has local functions {names}; TensorRT 8.6's parser does not read them: "
            "inline them (onnx.inliner.inline_local_functions) before saving"
        )
    for node in _nodes(model.graph):
        if node.domain not in DEFAULT_DOMAINS:
            raise ValueError(
                f"{_label(node)} is in the custom domain {node.domain!r}; TensorRT parses only the "
                "default ONNX domain (ai.onnx) without a plugin"
            )
        keep = TRT_OUTPUTS.get(node.op_type)
        if keep is not None and len(node.output) > keep:
            raise ValueError(
                f"{_label(node)} declares {len(node.output)} outputs {list(node.output)}; TensorRT's "
                f"parser accepts {keep} (NVIDIA/TensorRT#3457)"
            )
    custom = [o.domain for o in model.opset_import if o.domain not in DEFAULT_DOMAINS]
    if custom:
        raise ValueError(f"the graph imports custom opset domains {custom}; TensorRT parses only ai.onnx")


def clean_graph(model: onnx.ModelProto | str | Path) -> onnx.ModelProto:
    """Trim unused optional outputs and unused custom imports (in place), then `check_trt_ready`.

    Takes a ModelProto (changed in place and returned) or a path to load; raises a ValueError naming the
    node, domain or function TensorRT would refuse when trimming cannot fix it.
    """
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    _trim_outputs(model)
    _drop_unused_imports(model)
    check_trt_ready(model)
    return model

"""FLOPs of an ONNX graph from its shapes: convolutions and matrix products, 2 FLOPs per multiply-add.

ONNX's shape inference gives every tensor's shape once the batch is fixed; Conv, ConvTranspose, MatMul and
Gemm are counted (biases, norms, activations, resizes and element-wise ops are left out, as in
bench.engine_gflops' count of the ViT). Run: `python -m bench.onnx_flops MODEL.onnx [--batch 1]`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

COUNTED = ("Conv", "ConvTranspose", "MatMul", "Gemm")


def with_batch(model: onnx.ModelProto, batch: int) -> onnx.ModelProto:
    """A copy whose graph inputs have `batch` as their first dimension wherever it was symbolic."""
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    for value in fixed.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = batch
    return fixed


def shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Every tensor name with a fully known shape, after shape inference (initializers included)."""
    inferred = shape_inference.infer_shapes(model, strict_mode=True)
    graph = inferred.graph
    out: dict[str, tuple[int, ...]] = {i.name: tuple(i.dims) for i in graph.initializer}
    for value in (*graph.input, *graph.value_info, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            out[value.name] = tuple(d.dim_value for d in dims)
    return out


def _attribute(node: onnx.NodeProto, name: str, default: Any) -> Any:
    """A node attribute's value, or the default."""
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def node_flops(node: onnx.NodeProto, known: dict[str, tuple[int, ...]]) -> int:
    """FLOPs of one counted node; ValueError when a shape it needs is unknown."""
    missing = [n for n in (*node.input[:2], node.output[0]) if n not in known]
    if missing:
        raise ValueError(f"{node.op_type} node {node.name!r}: no static shape for {missing}")
    a, b, y = known[node.input[0]], known[node.input[1]], known[node.output[0]]
    if node.op_type == "Conv":  # y (N, Cout, *spatial), weight (Cout, Cin/group, *kernel)
        return 2 * int(np.prod(y)) * int(np.prod(b[1:]))
    if node.op_type == "ConvTranspose":  # x (N, Cin, *spatial), weight (Cin, Cout/group, *kernel)
        return 2 * int(np.prod(a)) * int(np.prod(b[1:]))
    if node.op_type == "MatMul":  # (..., M, K) @ (..., K, N)
        return 2 * int(np.prod(y)) * a[-1]
    k = a[0] if _attribute(node, "transA", 0) else a[-1]  # Gemm: (M, K) x (K, N)
    return 2 * int(np.prod(y)) * k


def count(model: onnx.ModelProto | str | Path, batch: int = 1) -> dict[str, Any]:
    """FLOPs per op type and in total for one batch, and the number of nodes counted."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model))
    fixed = with_batch(model, batch)
    known = shapes(fixed)
    per_op: dict[str, int] = {}
    nodes = 0
    for node in fixed.graph.node:
        if node.op_type in COUNTED:
            per_op[node.op_type] = per_op.get(node.op_type, 0) + node_flops(node, known)
            nodes += 1
        elif any(a.type == onnx.AttributeProto.GRAPH for a in node.attribute):
            raise ValueError(f"{node.op_type} node {node.name!r} has a subgraph: not counted here")
    return {"batch": batch, "flops": sum(per_op.values()), "per_op": per_op, "nodes_counted": nodes}


def _weights(model: onnx.ModelProto) -> int:
    """Parameters stored in the graph's initializers."""
    return sum(int(numpy_helper.to_array(i).size) for i in model.graph.initializer)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    loaded = onnx.load(str(args.model))
    print(json.dumps({**count(loaded, args.batch), "parameters": _weights(loaded)}, indent=2))

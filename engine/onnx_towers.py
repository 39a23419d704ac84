"""Export the two towers to ONNX with torch's dynamo exporter: dynamic batch, dynamic token length.

The legacy TorchScript exporter bakes nn.MultiheadAttention's sequence length into Reshape nodes, so its
text graph fails at any other length; the dynamo exporter keeps the length symbolic. It writes opset 18;
after its optimizer folds the constant axes inputs, the graph usually converts down to opset 17, which
TensorRT 8.6 (JetPack 6.0) parses. When that conversion fails the tower stays at 18 and says why. Every
graph then goes through `clean_graph`, so what is saved is what TensorRT's parser accepts.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import onnx
import torch
from onnx import version_converter
from open_clip.model import CLIP
from torch import nn

from engine.graph_io import INPUT_NAMES, OUTPUT_NAME, Tower
from engine.onnx_clean import clean_graph
from engine.towers import tower_module

log = logging.getLogger(__name__)

NATIVE_OPSET = 18  # what torch's ONNX function library is written in
MAX_EXPORT_BATCH = 4096  # upper bound of the symbolic batch dimension; runtimes set their own


@dataclass
class ExportedGraph:
    """What one tower's export produced: the file, its opset and why it is not lower when it is not."""

    path: Path
    opset: int
    nodes: int
    notes: list[str] = field(default_factory=list)


def example_input(
    tower: Tower, image_size: tuple[int, int], context_length: int, eot_id: int
) -> torch.Tensor:
    """A tracing input whose dynamic sizes are above 1, so the exporter does not specialise them."""
    if tower == Tower.IMAGE:
        return torch.randn(2, 3, *image_size)  # (B, 3, H, W)
    length = min(8, context_length)
    ids = torch.randint(1, 1000, (2, length))
    ids[:, -1] = eot_id  # rows end in the tokenizer's end-of-text id, as it makes them
    return ids  # (B, L)


def dynamic_shapes(tower: Tower, context_length: int) -> dict[str, dict[int, torch.export.Dim]]:
    """Batch is dynamic for both towers; the text tower's token length is dynamic up to the context."""
    batch = torch.export.Dim("batch", min=1, max=MAX_EXPORT_BATCH)
    if tower == Tower.IMAGE:
        return {"pixels": {0: batch}}
    return {"ids": {0: batch, 1: torch.export.Dim("length", min=1, max=context_length)}}


def _rename_output(program: torch.onnx.ONNXProgram) -> None:
    """Name the graph output `embedding`, first renaming any inner value that already has that name."""
    graph = program.model.graph
    output = graph.outputs[0]
    for node in graph:
        for value in node.outputs:
            if value.name == OUTPUT_NAME and value is not output:
                value.name = f"{OUTPUT_NAME}_inner"
    output.name = OUTPUT_NAME


def _strip_reduce_attrs(model: onnx.ModelProto) -> None:
    """Drop `noop_with_empty_axes=0` that the 18->17 converter leaves on Reduce ops (not valid below 18)."""
    for node in model.graph.node:
        if not node.op_type.startswith("Reduce"):
            continue
        kept = []
        for attr in node.attribute:
            if attr.name == "noop_with_empty_axes":
                if onnx.helper.get_attribute_value(attr) != 0:
                    raise ValueError(f"{node.name}: noop_with_empty_axes=1 has no opset-17 equivalent")
                continue
            kept.append(attr)
        del node.attribute[:]
        node.attribute.extend(kept)


def down_convert(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """The same graph at a lower default-domain opset, checked; raises when it cannot be expressed there."""
    converted = version_converter.convert_version(model, opset)
    _strip_reduce_attrs(converted)
    onnx.checker.check_model(converted)
    return converted


def graph_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset a graph declares."""
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def _trace(module: nn.Module, tower: Tower, example: torch.Tensor, context_length: int) -> onnx.ModelProto:
    """Run the dynamo exporter and its optimizer (constant folding, dead code), quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            (example,),
            input_names=[INPUT_NAMES[tower]],
            opset_version=NATIVE_OPSET,
            dynamo=True,
            dynamic_shapes=dynamic_shapes(tower, context_length),
            optimize=False,  # optimised once below, after the output is renamed
            verbose=False,
        )
    if program is None:
        raise RuntimeError(f"torch.onnx.export returned nothing for the {tower} tower")
    _rename_output(program)
    program.optimize()
    return program.model_proto


def export_tower(
    clip: CLIP,
    tower: Tower,
    path: Path,
    image_size: tuple[int, int],
    context_length: int,
    eot_id: int,
    opset: int = 17,
) -> ExportedGraph:
    """Write one tower as a checked, TensorRT-clean ONNX file at `opset` when it converts there, else 18."""
    if opset > NATIVE_OPSET:
        raise ValueError(f"opset {opset} is above what the exporter writes ({NATIVE_OPSET})")
    module = tower_module(clip, tower, eot_id)
    example = example_input(tower, image_size, context_length, eot_id)
    model = _trace(module, tower, example, context_length)
    notes = []
    if opset < NATIVE_OPSET:
        try:
            model = down_convert(model, opset)
        except Exception as exc:  # the converter raises RuntimeError, ValueError or checker errors
            note = f"kept opset {NATIVE_OPSET}: conversion to {opset} failed ({type(exc).__name__}: {exc})"
            log.warning("%s tower: %s", tower, note)
            notes.append(note)
    model = clean_graph(model)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(model, str(tmp))
    onnx.checker.check_model(str(tmp), full_check=True)
    os.replace(tmp, path)
    return ExportedGraph(path=path, opset=graph_opset(model), nodes=len(model.graph.node), notes=notes)

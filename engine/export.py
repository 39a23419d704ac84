"""`export_bundle`: write image.onnx and text.onnx into a bundle, prove them against torch, record it all.

Every export runs the parity check (ONNX Runtime vs torch, several batch sizes and token lengths) and
fails loudly outside tolerance; it also reports FP16 vs FP32 agreement (torch half precision on the CPU),
so an overflow is caught before an FP16 engine is built, and writes INT8 twins for ONNX Runtime on the
CPU with their agreement. The results go into model.json under `export`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from engine.bundle import load_bundle
from engine.bundle_files import bundle_vocab
from engine.graph_io import INPUT_NAMES, OUTPUT_NAME, Tower, onnx_path
from engine.onnx_towers import ExportedGraph, export_tower
from engine.parity import (
    FP16_MIN_COSINE,
    INT8_MIN_COSINE,
    PARITY_MAX_ABS,
    PARITY_MIN_COSINE,
    check,
    compare,
    fp16_agreement,
    image_samples,
    onnx_outputs,
    text_samples,
    torch_outputs,
)
from engine.quantize import quantize_graph
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer
from engine.towers import tower_module

log = logging.getLogger(__name__)

IMAGE_BATCHES = (1, 2, 5)


@dataclass
class ExportOptions:
    """How to export: target opset, whether to write INT8 twins, and which checks to run."""

    opset: int = 17
    int8: bool = True
    fp16_check: bool = True
    image_batches: tuple[int, ...] = IMAGE_BATCHES


def text_shapes(context_length: int) -> list[tuple[int, int]]:
    """(batch, length) cases for the text parity check: a lone short query up to a full-context batch."""
    lengths = sorted({min(2, context_length), min(7, context_length), context_length})
    return [(1, lengths[0]), (3, lengths[len(lengths) // 2]), (4, lengths[-1])]


def samples_for(tower: Tower, spec: ModelSpec, options: ExportOptions, eot_id: int) -> list[np.ndarray]:
    """The parity inputs of a tower."""
    if tower == Tower.IMAGE:
        return image_samples(spec.image_size, options.image_batches)
    return text_samples(spec.context_length, text_shapes(spec.context_length), eot_id)


def _check_tower(
    module: torch.nn.Module,
    graph: ExportedGraph,
    tower: Tower,
    samples: list[np.ndarray],
    options: ExportOptions,
) -> dict[str, Any]:
    """Parity (must pass), FP16 agreement and the INT8 twin (reported) for one exported tower."""
    reference = torch_outputs(module, samples, torch.float32)
    onnx_out = onnx_outputs(graph.path, INPUT_NAMES[tower], samples)
    parity = check(
        compare(reference, onnx_out, samples),
        f"{tower} ONNX parity with torch",
        PARITY_MAX_ABS,
        PARITY_MIN_COSINE,
    )
    record: dict[str, Any] = {
        "file": graph.path.name,
        "opset": graph.opset,
        "input": INPUT_NAMES[tower],
        "output": OUTPUT_NAME,
        "nodes": graph.nodes,
        "parity": parity.record(),
    }
    if graph.notes:
        record["notes"] = graph.notes
    if options.fp16_check:
        fp16 = fp16_agreement(module, samples, reference)
        record["fp16"] = {**fp16.record(), "safe": fp16.passes(None, FP16_MIN_COSINE)}
        if not record["fp16"]["safe"]:
            log.warning("%s tower: FP16 min cosine %.5f < %s", tower, fp16.min_cosine, FP16_MIN_COSINE)
    if options.int8:
        int8_path = quantize_graph(graph.path, onnx_path(graph.path.parent, tower, int8=True))
        int8 = compare(onnx_out, onnx_outputs(int8_path, INPUT_NAMES[tower], samples), samples)
        record["int8"] = {"file": int8_path.name, **int8.record(), "ok": int8.passes(None, INT8_MIN_COSINE)}
        if not record["int8"]["ok"]:
            log.warning("%s tower: INT8 min cosine %.5f < %s", tower, int8.min_cosine, INT8_MIN_COSINE)
    return record


def export_bundle(bundle: str | Path, options: ExportOptions | None = None) -> ModelSpec:
    """Export both towers of a bundle to ONNX, check them, and record the results in its model.json."""
    bundle, options = Path(bundle), options or ExportOptions()
    clip, spec = load_bundle(bundle)
    eot_id = Tokenizer(bundle_vocab(bundle), spec.context_length).eot_id
    towers: dict[str, Any] = {}
    for tower in Tower:
        start = time.perf_counter()
        path = onnx_path(bundle, tower)
        graph = export_tower(clip, tower, path, spec.image_size, spec.context_length, eot_id, options.opset)
        samples = samples_for(tower, spec, options, eot_id)
        module = tower_module(clip, tower, eot_id)
        towers[tower] = _check_tower(module, graph, tower, samples, options)
        towers[tower]["seconds"] = round(time.perf_counter() - start, 1)
        log.info("%s tower: opset %d, parity %s", tower, graph.opset, towers[tower]["parity"])
    export = {
        "exporter": f"torch.onnx dynamo (torch {torch.__version__.split('+')[0]}, onnx {onnx.__version__})",
        "model_id": spec.model_id,
        **towers,
    }
    saved = spec.model_copy(update={"export": export})
    saved.save(bundle)
    return saved


def exported_for(spec: ModelSpec) -> bool:
    """True when a spec's export record belongs to its current weights (a retrained bundle needs export)."""
    return bool(spec.export) and spec.export.get("model_id") == spec.model_id

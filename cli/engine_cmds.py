"""`person-search export` and `person-search build-engine`: ONNX towers, then TensorRT plans on the device."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.app import app


@app.command()
def export(
    bundle: Annotated[Path, typer.Argument(help="model bundle directory")],
    opset: Annotated[int, typer.Option(help="target ONNX opset (17 for TensorRT 8.6; 18 is native)")] = 17,
    int8: Annotated[bool, typer.Option(help="also write INT8 twins for ONNX Runtime on the CPU")] = True,
    fp16_check: Annotated[bool, typer.Option(help="report FP16 vs FP32 agreement")] = True,
) -> None:
    """Write image.onnx and text.onnx, check parity with torch, record it in model.json."""
    from engine.export import ExportOptions, export_bundle
    from engine.graph_io import Tower

    spec = export_bundle(bundle, ExportOptions(opset=opset, int8=int8, fp16_check=fp16_check))
    summary = {
        tower: {
            "opset": spec.export[tower]["opset"],
            "parity": spec.export[tower]["parity"],
            **{k: spec.export[tower][k]["min_cosine"] for k in ("fp16", "int8") if k in spec.export[tower]},
        }
        for tower in Tower
    }
    typer.echo(json.dumps(summary, indent=2))


@app.command("build-engine")
def build_engine(
    bundle: Annotated[Path, typer.Argument(help="model bundle (already exported) or detector directory")],
    precision: Annotated[str, typer.Option(help="fp16, int8 or fp32")] = "fp16",
    max_batch: Annotated[int, typer.Option(min=1, help="largest batch the plans accept")] = 32,
    text_max_batch: Annotated[
        int | None, typer.Option(min=1, help="largest text batch (default: --max-batch)")
    ] = None,
    image_max_batch: Annotated[
        int | None, typer.Option(min=1, help="largest image batch (default: --max-batch)")
    ] = None,
    calibration_dir: Annotated[
        Path | None, typer.Option(help="folder of gallery crops for INT8 calibration")
    ] = None,
    calibration_limit: Annotated[int, typer.Option(help="at most this many calibration crops")] = 512,
    workspace_mb: Annotated[int, typer.Option(help="TensorRT builder workspace in MiB")] = 1024,
    fp32_softmax: Annotated[bool, typer.Option(help="also keep softmax layers at FP32")] = False,
    force_fp16: Annotated[
        bool, typer.Option(help="build FP16 even if the export's FP16 check failed")
    ] = False,
    device: Annotated[int, typer.Option(help="CUDA device index")] = 0,
) -> None:
    """Build TensorRT plans for both towers on this device, under BUNDLE/engines/<key>/.

    A detector directory (with detector.json) gets its detector.plan the same way; INT8 then calibrates
    on a folder of camera frames.
    """
    from engine.detector.spec import DETECTOR_JSON
    from engine.detector.tensorrt_build import build_detector_engine
    from engine.encoder import Precision
    from engine.tensorrt.build import BuildOptions, build_engines
    from engine.tensorrt.profiles import TowerBatches
    from engine.tensorrt.versions import import_tensorrt

    batches = TowerBatches(
        max_batch if text_max_batch is None else text_max_batch,
        max_batch if image_max_batch is None else image_max_batch,
    )
    trt, cuda = import_tensorrt()
    options = BuildOptions(
        calibration_dir=calibration_dir,
        calibration_limit=calibration_limit,
        workspace_mb=workspace_mb,
        fp32_softmax=fp32_softmax,
        device_index=device,
        force_fp16=force_fp16,
    )
    if (bundle / DETECTOR_JSON).is_file():
        meta = build_detector_engine(bundle, Precision(precision), max_batch, trt, cuda, options)
    else:
        meta = build_engines(bundle, Precision(precision), batches, trt, cuda, options)
    typer.echo(f"built {meta.directory}")
    typer.echo(meta.model_dump_json(indent=2))

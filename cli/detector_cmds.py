"""`person-search train-detector` and `import-detector`: a person detector directory, trained or imported.

`build-engine DIR` builds a detector directory's TensorRT plan too (it recognises detector.json).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.app import app


def _size(value: str | None) -> tuple[int, int] | None:
    """'192x320' -> (192, 320)."""
    if value is None:
        return None
    try:
        h, w = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not HxW, e.g. 640x640", param_hint="--input-size") from None
    return h, w


@app.command("train-detector")
def train_detector(
    scenes: Annotated[Path, typer.Argument(help="scenes directory written by `person-search synth-scenes`")],
    out: Annotated[Path, typer.Option(help="detector directory to write (detector.onnx, detector.json)")],
    holdout: Annotated[
        Path | None, typer.Option(help="scenes to score AP50 on (default: the last camera of SCENES)")
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1)] = None,
    batch_size: Annotated[int | None, typer.Option(min=1)] = None,
    lr: Annotated[float | None, typer.Option(help="peak learning rate")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    input_size: Annotated[
        str | None, typer.Option(help="network input HxW, multiples of 16 (default 288x512)")
    ] = None,
    frame_step: Annotated[int | None, typer.Option(min=1, help="train on every k-th frame")] = None,
    threads: Annotated[int | None, typer.Option(min=0, help="torch threads; 0 = torch default")] = None,
) -> None:
    """Train the demo's tiny one-class person detector and export it in the YOLO layout; report AP50."""
    from pydantic import ValidationError

    from training.detector.train import DetectorTrainConfig
    from training.detector.train import train_detector as run

    changes = {
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
        "input_size": _size(input_size), "frame_step": frame_step, "threads": threads,
    }  # fmt: skip
    try:
        config = DetectorTrainConfig.model_validate({k: v for k, v in changes.items() if v is not None})
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="options") from None
    try:
        result = run(scenes, out, config, holdout, echo=typer.echo)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"AP50 {result.ap50:.3f} held out, {result.seconds:.0f} s; model_id {result.spec.model_id}")


@app.command("import-detector")
def import_detector(
    model: Annotated[Path, typer.Argument(help="ONNX with the YOLOv8/YOLO11 output layout [B, 4+C, N]")],
    out: Annotated[Path, typer.Option(help="detector directory to write")],
    classes: Annotated[str | None, typer.Option(help="comma list of class names (default: metadata)")] = None,
    person_class: Annotated[
        int | None, typer.Option(help="index of person (default: the 'person' name)")
    ] = None,
    input_size: Annotated[str | None, typer.Option(help="HxW (default: metadata or the graph)")] = None,
    score_threshold: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.25,
    nms_iou: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.45,
    max_detections: Annotated[int, typer.Option(min=1)] = 100,
) -> None:
    """Make a detector directory from a YOLO ONNX export: detector.onnx + detector.json, checked."""
    from engine.detector.importer import import_detector as run

    names = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    try:
        spec = run(
            model, out, class_names=names, person_class=person_class, input_size=_size(input_size),
            score_threshold=score_threshold, nms_iou=nms_iou, max_detections=max_detections,
        )  # fmt: skip
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(spec.model_dump_json(indent=2, exclude={"provenance"}))

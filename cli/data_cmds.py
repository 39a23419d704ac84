"""`person-search synth`, `synth-scenes` and `eval`: make synthetic crops or camera scenes, score a bundle."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import app


class DomainChoice(StrEnum):
    """The synthetic domains, as the CLI offers them."""

    SOURCE = "source"
    TARGET = "target"


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="directory to write reid_raw.json and imgs/ into")],
    identities: Annotated[int, typer.Option(min=1, help="number of persons")] = 500,
    images_per_id: Annotated[int, typer.Option(min=1, help="images of each person")] = 4,
    domain: Annotated[
        DomainChoice, typer.Option(help="source: terse captions, tidy cameras; target: the shift")
    ] = (DomainChoice.SOURCE),
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 0,
    height: Annotated[int, typer.Option(help="image height in pixels")] = 96,
    width: Annotated[int, typer.Option(help="image width in pixels")] = 32,
) -> None:
    """Draw a synthetic person set with captions in CUHK-PEDES layout (train/val/test identities 80/10/10)."""
    from tqdm import tqdm

    from training.synth import generate

    with tqdm(total=identities * images_per_id, unit="img", desc=f"synth {domain}") as bar:
        path = generate(
            out, identities, images_per_id, str(domain), seed, (height, width), progress=bar.update
        )
    typer.echo(f"wrote {identities * images_per_id} images of {identities} persons; annotations: {path}")


@app.command("synth-scenes")
def synth_scenes_command(
    out: Annotated[Path, typer.Option(help="directory to write the videos, ground truth and JSON into")],
    cameras: Annotated[int, typer.Option(help="number of cameras (at least 1)")] = 2,
    seconds: Annotated[float, typer.Option(help="length of every video in seconds (positive)")] = 60.0,
    fps: Annotated[int, typer.Option(help="frames per second (at least 1)")] = 10,
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 0,
    domain: Annotated[
        DomainChoice, typer.Option(help="source: daylight, terse captions; target: dimmer, freer captions")
    ] = (DomainChoice.SOURCE),
    width: Annotated[int, typer.Option(help="frame width in pixels (even)")] = 640,
    height: Annotated[int, typer.Option(help="frame height in pixels (even)")] = 360,
) -> None:
    """Render synthetic camera videos with MOTChallenge ground truth; the same people cross cameras."""
    from tqdm import tqdm

    from training.synth.scenes import check, synth_scenes

    try:
        frames = check(cameras, seconds, fps, (height, width))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with tqdm(total=cameras * frames, unit="frame", desc=f"synth-scenes {domain}") as bar:
        path = synth_scenes(
            out, cameras, seconds, fps, seed, str(domain), (height, width), progress=bar.update
        )
    people = len(json.loads((out / "identities.json").read_text(encoding="utf-8")))
    typer.echo(f"wrote {cameras} cameras x {frames} frames with {people} persons; index: {path}")


def _table(metrics: dict[str, Any]) -> str:
    """The five metrics as a two-line table."""
    keys = ("R1", "R5", "R10", "mAP", "mINP")
    return "  ".join(f"{k:>6}" for k in keys) + "\n" + "  ".join(f"{metrics[k]:6.2f}" for k in keys)


@app.command("eval")
def eval_command(
    model: Annotated[Path, typer.Option(help="model bundle directory")],
    data: Annotated[Path, typer.Option(help="dataset folder or annotation file (format detected)")],
    split: Annotated[str, typer.Option(help="train, val, test, or all")] = "test",
    fmt: Annotated[str | None, typer.Option("--format", help="force a dataset format")] = None,
    backend: Annotated[str, typer.Option(help="auto, tensorrt, onnxruntime or torch")] = "auto",
    precision: Annotated[str, typer.Option(help="fp32, fp16 or int8")] = "fp32",
    batch_size: Annotated[int, typer.Option(min=1, help="images or captions encoded at a time")] = 64,
    out: Annotated[Path | None, typer.Option(help="also write the metrics as JSON here")] = None,
) -> None:
    """Score a bundle on a dataset split: every caption queries every image; R@1/5/10, mAP, mINP."""
    from engine import load_encoder
    from training.data import DatasetError, load_dataset
    from training.evaluate import evaluate

    try:
        dataset = load_dataset(data, fmt)
    except DatasetError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    chosen = dataset if split == "all" else dataset.split(split)
    if not chosen.items:
        present = ", ".join(sorted({i.split for i in dataset.items})) or "none"
        raise typer.BadParameter(
            f"{dataset.name} has no {split!r} items; its splits: {present}", param_hint="--split"
        )
    encoder = load_encoder(model, backend=backend, precision=precision, max_batch=batch_size)
    metrics = evaluate(encoder.encode_images, encoder.encode_texts, chosen, batch_size=batch_size)
    where = encoder.describe()
    typer.echo(
        f"{chosen.name}: {metrics['queries']} queries, {metrics['gallery']} images, "
        f"{metrics['identities']} persons ({where['backend']} on {where['device']}, {where['precision']})"
    )
    typer.echo(_table(metrics))
    if out is None:
        return
    report = {**metrics, "dataset": chosen.name, "data": str(data), "split": split, **where}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"wrote {out}")

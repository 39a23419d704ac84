"""`person-search train` and `person-search probe`: fine-tune (or pretrain) into a bundle, probe a bundle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import app


def _config(source: Path | None, from_scratch: bool, changes: dict[str, Any], lora: dict[str, Any]) -> Any:
    """A TrainConfig: the file given (or the demo defaults of the mode), then the options set on the line."""
    from training.config import TrainConfig, TrainMode, demo_finetune_config, demo_pretrain_config

    if source is not None:
        base = TrainConfig.model_validate_json(source.read_text())
    else:
        base = demo_pretrain_config() if from_scratch else demo_finetune_config()
    data = base.model_dump()
    data.update({k: v for k, v in changes.items() if v is not None})
    data["lora"].update({k: v for k, v in lora.items() if v is not None})
    if from_scratch:
        data["mode"] = TrainMode.SCRATCH
    return TrainConfig.model_validate(data)


def _csv(value: str | None) -> list[str] | None:
    """'attn,mlp' -> ['attn', 'mlp']."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@app.command()
def train(
    data: Annotated[Path, typer.Argument(help="dataset folder or annotation file (format detected)")],
    out: Annotated[Path, typer.Option(help="run directory: bundle/, checkpoints/, log.jsonl, PNGs")],
    base: Annotated[str | None, typer.Option(help="bundle directory or 'ARCH:TAG' to fine-tune")] = None,
    from_scratch: Annotated[bool, typer.Option(help="train --arch fully from random weights")] = False,
    arch: Annotated[str | None, typer.Option(help="architecture for --from-scratch")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="force a dataset format")] = None,
    config: Annotated[Path | None, typer.Option(help="TrainConfig JSON; options below override it")] = None,
    epochs: Annotated[int | None, typer.Option(min=1)] = None,
    batch_size: Annotated[int | None, typer.Option(min=2)] = None,
    lr: Annotated[float | None, typer.Option(help="peak learning rate")] = None,
    patience: Annotated[int | None, typer.Option(min=1, help="early stopping on val R@1")] = None,
    seed: Annotated[int | None, typer.Option()] = None,
    threads: Annotated[int | None, typer.Option(min=0, help="torch threads; 0 = torch default")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N")] = None,
    lora_rank: Annotated[int | None, typer.Option(min=1)] = None,
    lora_alpha: Annotated[int | None, typer.Option(min=1)] = None,
    lora_targets: Annotated[str | None, typer.Option(help="comma list of attn, mlp")] = None,
    towers: Annotated[str | None, typer.Option(help="comma list of image, text")] = None,
    embedding: Annotated[str | None, typer.Option(help="token embedding: lora, full or frozen")] = None,
    train_logit_scale: Annotated[bool | None, typer.Option(help="also train the temperature")] = None,
    resume: Annotated[bool, typer.Option(help="continue from the newest checkpoint in --out")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Fine-tune a CLIP with LoRA (default) or train a tiny one from scratch; write a bundle and a report.

    Without --config the settings start from the demo presets measured on the synthetic set.
    """
    from pydantic import ValidationError

    from training.data import DatasetError, load_dataset
    from training.pipeline import train as run_training

    changes = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "patience": patience,
        "seed": seed,
        "threads": threads,
        "device": device,
        "arch": arch,
        "progress": progress,
    }
    lora = {
        "rank": lora_rank,
        "alpha": lora_alpha,
        "targets": _csv(lora_targets),
        "towers": _csv(towers),
        "embedding": embedding,
        "train_logit_scale": train_logit_scale,
    }
    try:
        settings = _config(config, from_scratch, changes, lora)
    except (ValidationError, OSError) as exc:
        raise typer.BadParameter(str(exc), param_hint="options or --config") from None
    if not from_scratch and base is None and settings.mode == "lora":
        raise typer.BadParameter("LoRA needs a base: a bundle directory or 'ARCH:TAG'", param_hint="--base")
    try:
        dataset = load_dataset(data, fmt)
    except DatasetError as exc:
        raise typer.BadParameter(str(exc), param_hint="DATA") from None
    result = run_training(dataset, out, settings, base=base, resume=resume, echo=typer.echo)
    typer.echo(f"bundle: {result.bundle}")


@app.command()
def probe(
    model: Annotated[Path, typer.Option(help="model bundle directory")],
    data: Annotated[Path, typer.Option(help="dataset with attributes (e.g. a synthetic set)")],
    out: Annotated[Path, typer.Option(help="where probe.json and confusion.png go")],
    attribute: Annotated[str, typer.Option(help="attribute to predict")] = "upper_colour",
    train_split: Annotated[str, typer.Option(help="split the head learns on")] = "train",
    eval_split: Annotated[str, typer.Option(help="split it is scored on")] = "test",
    epochs: Annotated[int, typer.Option(min=1, help="epochs of the head")] = 60,
    seed: Annotated[int, typer.Option()] = 0,
    fmt: Annotated[str | None, typer.Option("--format", help="force a dataset format")] = None,
) -> None:
    """Train an MLP on frozen image embeddings to predict an attribute: what does the embedding encode?"""
    from training.data import DatasetError, load_dataset
    from training.probe import CONFUSION_FILE, run_probe

    try:
        dataset = load_dataset(data, fmt)
    except DatasetError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    try:
        result = run_probe(model, dataset, attribute, out, train_split, eval_split, epochs, seed)
    except (KeyError, ValueError) as exc:
        typer.echo(f"error: {exc.args[0] if exc.args else exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"{attribute}: accuracy {result.accuracy:.1f}% (majority class {result.majority_baseline:.1f}%)"
    )
    width = max(len(c) for c in result.classes)
    typer.echo(f"{'class':<{width}}  precision  recall  support")
    for name, row in result.per_class.items():
        typer.echo(f"{name:<{width}}  {row['precision']:9.1f}  {row['recall']:6.1f}  {row['support']:7d}")
    typer.echo(f"wrote {out / CONFUSION_FILE} and {json.dumps(str(out / 'probe.json'))}")

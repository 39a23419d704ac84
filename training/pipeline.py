"""Train -> merge -> evaluate -> save the bundle and its report: what `person-search train` and the demo call.

A run directory holds `bundle/` (what the service is pointed at), `checkpoints/`, `log.jsonl`,
`report.json`, `curves.png` and `projection.png`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from open_clip.model import CLIP
from torch import nn
from tqdm import tqdm

from engine.bundle import save_bundle
from engine.model import create_model
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer
from training import lora, report
from training.config import TrainConfig, TrainMode, demo_finetune_config, demo_pretrain_config
from training.data.types import SPLITS, PersonDataset
from training.embed import split_metrics
from training.loop import Trainer
from training.samples import SplitData

BUNDLE_DIR = "bundle"
REPORT_FILE = "report.json"
EVAL_SPLITS = ("val", "test")
Echo = Callable[[str], object]


@dataclass
class TrainResult:
    """Where the bundle went and what it measured (metrics[model][split] with model base or tuned)."""

    bundle: Path
    run_dir: Path
    spec: ModelSpec
    metrics: dict[str, dict[str, dict[str, float] | None]]


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; an explicit CUDA device that is absent is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name} was asked for but torch sees no CUDA device")
    return device


def as_dataset(data: PersonDataset | str | Path, fmt: str | None = None) -> PersonDataset:
    """A dataset as it is, or read through the loaders of training.data."""
    if isinstance(data, PersonDataset):
        return data
    from training.data import load_dataset

    return load_dataset(Path(data), fmt)


def _base_model(config: TrainConfig, base: str | Path | None) -> tuple[CLIP, ModelSpec]:
    """The starting model: random `config.arch` from scratch, else the given bundle or pretrained tag."""
    if config.mode == TrainMode.SCRATCH:
        torch.manual_seed(config.seed)
        return create_model(config.arch, image_size=config.image_size)
    if base is None:
        raise ValueError(
            "LoRA fine-tuning needs a base: a bundle directory or 'ARCH:TAG'; or use from-scratch"
        )
    return create_model(base, image_size=config.image_size)


def _evaluate(
    clip: CLIP,
    splits: dict[str, SplitData],
    tokenizer: Tokenizer,
    device: torch.device,
    config: TrainConfig,
) -> tuple[dict[str, dict[str, float] | None], dict[str, np.ndarray]]:
    """Metrics and gallery embeddings on val and test (None for an empty split)."""
    metrics: dict[str, dict[str, float] | None] = {}
    galleries: dict[str, np.ndarray] = {}
    for name in EVAL_SPLITS:
        if len(splits[name]):
            metrics[name], galleries[name] = split_metrics(
                clip,
                splits[name],
                tokenizer,
                device,
                config.eval_batch_size,
                config.amp,
            )
        else:
            metrics[name] = None
    return metrics, galleries


def _data_summary(dataset: PersonDataset) -> dict[str, Any]:
    """Name and per-split counts of the training data, for the bundle's provenance."""
    counts = {}
    for name in SPLITS:
        part = dataset.split(name)
        counts[name] = {"images": len(part), "identities": len(part.person_ids())}
    return {"name": dataset.name, "splits": counts}


def train(
    data: PersonDataset | str | Path,
    out_dir: Path,
    config: TrainConfig,
    base: str | Path | None = None,
    resume: bool = False,
    echo: Echo = tqdm.write,
) -> TrainResult:
    """Run one training and write the bundle with provenance and the report next to it."""
    previous = torch.get_num_threads()
    torch.set_num_threads(config.threads or previous)
    try:
        return _train(data, Path(out_dir), config, base, resume, echo)
    finally:
        torch.set_num_threads(previous)


def _train(
    data: PersonDataset | str | Path,
    run_dir: Path,
    config: TrainConfig,
    base: str | Path | None,
    resume: bool,
    echo: Echo,
) -> TrainResult:
    """train() with the thread count set."""
    start = time.perf_counter()
    device = resolve_device(config.device)
    dataset = as_dataset(data)
    model, base_spec = _base_model(config, base)
    model.to(device)
    splits = {name: SplitData.build(dataset.split(name), base_spec, config.cache_max_mb) for name in SPLITS}
    tokenizer = Tokenizer(context_length=base_spec.context_length)
    before, before_gallery = _evaluate(model, splits, tokenizer, device, config)

    peft_model = lora.wrap(model, config.lora) if config.mode == TrainMode.LORA else None
    trainable: nn.Module = peft_model if peft_model is not None else model.requires_grad_(True)
    clip = lora.unwrap(peft_model) if peft_model is not None else model
    counts = lora.trainable_counts(trainable)
    echo(lora.trainable_share(trainable))
    trainer = Trainer(
        trainable, clip, splits["train"], splits["val"], config, run_dir, tokenizer, device, echo
    )
    fit = trainer.fit(resume=resume)

    final = lora.merge(peft_model) if peft_model is not None else clip.eval().requires_grad_(False)
    after, after_gallery = _evaluate(final, splits, tokenizer, device, config)
    metrics = {"base": before, "tuned": after}
    provenance = {
        "mode": str(config.mode),
        "base": {
            "source": str(base) if base else None,
            "arch": base_spec.arch,
            "model_id": base_spec.model_id,
        },
        "lora": lora.describe(config.lora) if config.mode == TrainMode.LORA else None,
        "data": _data_summary(dataset),
        "epochs": {
            "planned": config.epochs,
            "run": len(fit.history),
            "best": fit.best_epoch,
            "stopped_early": fit.stopped_early,
        },
        "trainable_params": counts[0],
        "total_params": counts[1],
        "metrics": metrics,
        "config": config.model_dump(mode="json"),
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    spec = base_spec.model_copy(update={"provenance": provenance, "export": {}})
    saved = save_bundle(final.cpu(), spec, run_dir / BUNDLE_DIR)
    _write_report(run_dir, saved, fit.history, before_gallery, after_gallery, splits)
    echo(report.metrics_table(metrics))
    return TrainResult(run_dir / BUNDLE_DIR, run_dir, saved, metrics)


def _write_report(
    run_dir: Path,
    spec: ModelSpec,
    history: list[dict[str, Any]],
    before: dict[str, np.ndarray],
    after: dict[str, np.ndarray],
    splits: dict[str, SplitData],
) -> None:
    """report.json, the curves and (when a val or test split exists) the gallery projection."""
    (run_dir / REPORT_FILE).write_text(
        json.dumps({"model_id": spec.model_id, "history": history, **spec.provenance}, indent=2) + "\n"
    )
    report.plot_curves(history, run_dir / report.CURVES_FILE)
    shown = "test" if "test" in after else next(iter(after), None)
    if shown:
        report.plot_projection(
            before[shown], after[shown], splits[shown].person_ids, run_dir / report.PROJECTION_FILE
        )


def _existing(out_dir: Path, echo: Echo) -> Path | None:
    """The bundle of a finished run in out_dir, if there is one."""
    bundle = Path(out_dir) / BUNDLE_DIR
    if (bundle / "model.json").is_file():
        echo(f"reusing the trained bundle in {bundle}")
        return bundle
    return None


def pretrain(
    source_data: PersonDataset | str | Path,
    out_dir: Path,
    config: TrainConfig | None = None,
    echo: Echo = tqdm.write,
) -> Path:
    """Train the demo's base model from scratch on the source domain, or reuse a finished run; bundle path."""
    config = config or demo_pretrain_config()
    if config.mode != TrainMode.SCRATCH:
        raise ValueError("pretrain trains from scratch: give a config with mode='scratch'")
    found = _existing(out_dir, echo)
    return found or train(source_data, Path(out_dir), config, resume=True, echo=echo).bundle


def finetune(
    base_bundle: str | Path,
    target_data: PersonDataset | str | Path,
    out_dir: Path,
    config: TrainConfig | None = None,
    echo: Echo = tqdm.write,
) -> Path:
    """LoRA-tune a base on the target domain, or reuse a finished run; the bundle path."""
    config = config or demo_finetune_config()
    if config.mode != TrainMode.LORA:
        raise ValueError("finetune uses LoRA: give a config with mode='lora'")
    found = _existing(out_dir, echo)
    return found or train(target_data, Path(out_dir), config, base=base_bundle, resume=True, echo=echo).bundle

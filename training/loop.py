"""The training loop: AdamW, warm-up then cosine, clipping, autocast, checkpoints, resume, early stopping.

Every epoch re-seeds torch, the shuffle and the caption sampler from (seed, epoch), so a run resumed from
an epoch checkpoint continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from open_clip.model import CLIP
from torch import nn
from tqdm import tqdm

from engine.tokenizer import Tokenizer
from engine.towers import ImageTower, TextTower
from training import checkpoint
from training.augment import ImageAugment, drop_words
from training.config import TrainConfig, TrainMode
from training.embed import autocast_for, split_metrics
from training.losses import IdentityHead, total_loss
from training.samples import SplitData

LOG_FILE = "log.jsonl"
MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clamps its learned temperature at 100
RESUME_MAY_CHANGE = {
    "epochs",
    "patience",
    "progress",
    "threads",
    "device",
    "eval_batch_size",
    "log_every",
    "keep_checkpoints",
    "cache_max_mb",
}


@dataclass
class FitResult:
    """What a fit produced: one record per epoch, the best validation R@1 and when."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_r1: float | None = None
    stopped_early: bool = False


def warmup_cosine(warmup: int, total: int, min_ratio: float) -> Callable[[int], float]:
    """LR multiplier: linear warm-up over `warmup` steps, then cosine decay to `min_ratio` at `total`."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def param_groups(model: nn.Module, head: nn.Module | None, config: TrainConfig) -> list[dict[str, Any]]:
    """Trainable parameters for AdamW; in LoRA mode the token embedding's get lr * embedding_lr_ratio."""
    ratio = config.lora.embedding_lr_ratio if config.mode == TrainMode.LORA else 1.0
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    named += [(f"head.{n}", p) for n, p in head.named_parameters()] if head else []
    if not named:
        raise ValueError("no parameter requires grad: nothing would train")
    embedding = [p for n, p in named if "token_embedding" in n]
    groups = [{"params": [p for n, p in named if "token_embedding" not in n], "lr": config.lr}]
    groups += [{"params": embedding, "lr": config.lr * ratio}] if embedding else []
    return [g for g in groups if g["params"]]


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's shuffle, augmentation, dropout and caption choice."""
    return seed * 100_003 + epoch


class Trainer:
    """Trains the parameters of `model` that require grad, reading pixels and captions from SplitData."""

    def __init__(
        self,
        model: nn.Module,
        clip: CLIP,
        train: SplitData,
        val: SplitData | None,
        config: TrainConfig,
        run_dir: Path,
        tokenizer: Tokenizer,
        device: torch.device,
        echo: Callable[[str], object] = tqdm.write,
    ) -> None:
        if len(train) < 2:
            raise ValueError(f"{train.name} has {len(train)} images; training needs at least 2")
        self.model, self.clip, self.train_data, self.val = model, clip, train, val
        self.config, self.run_dir, self.tokenizer, self.device, self.echo = (
            config,
            run_dir,
            tokenizer,
            device,
            echo,
        )
        self.image_tower, self.text_tower = ImageTower(clip), TextTower(clip, tokenizer.eot_id)
        self.augment = ImageAugment(config.augment, train.spec.image_size)
        ids = sorted(set(train.person_ids.tolist()))
        self.labels = torch.from_numpy(np.searchsorted(ids, train.person_ids))  # 0-based identity labels
        self.head = IdentityHead(clip.embed_dim, len(ids)).to(device) if config.losses.id else None
        fused = device.type in ("cpu", "cuda")  # one kernel for all parameters: 2-3x faster steps on a CPU
        self.optimizer = torch.optim.AdamW(
            param_groups(model, self.head, config),
            lr=config.lr,
            weight_decay=config.weight_decay,
            fused=fused,
        )
        self.steps_per_epoch = max(1, len(train) // config.batch_size)
        warmup = round(config.warmup_epochs * self.steps_per_epoch)
        factor = warmup_cosine(warmup, config.epochs * self.steps_per_epoch, config.min_lr_ratio)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    def _batches(self, epoch: int) -> list[list[int]]:
        """This epoch's shuffled batches; the incomplete last batch is dropped (SDM needs full batches)."""
        order = torch.randperm(
            len(self.train_data), generator=torch.Generator().manual_seed(epoch_seed(self.config.seed, epoch))
        )
        size = min(self.config.batch_size, len(order))
        return [order[i : i + size].tolist() for i in range(0, self.steps_per_epoch * size, size)]

    def _step(self, batch: list[int], rng: random.Random) -> dict[str, float]:
        """One optimisation step on one batch; returns the loss parts."""
        pixels = self.augment(self.train_data.pixels(batch)).to(self.device)
        texts = [
            drop_words(rng.choice(self.train_data.items[i].captions), self.config.augment.word_drop, rng)
            for i in batch
        ]
        ids = torch.from_numpy(self.tokenizer(texts)[0]).to(self.device)
        person_ids = torch.from_numpy(self.train_data.person_ids[batch]).to(self.device)
        with autocast_for(self.device, self.config.amp):
            image, text = self.image_tower(pixels).float(), self.text_tower(ids).float()
            scale = self.clip.logit_scale.exp()
            loss, parts = total_loss(
                self.config.losses,
                image,
                text,
                person_ids,
                scale,
                self.head,
                self.labels[batch].to(self.device),
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        parts["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip))
        self.optimizer.step()
        self.scheduler.step()
        with torch.no_grad():
            self.clip.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        parts["loss"] = float(loss.detach())
        return parts

    def _epoch(self, epoch: int) -> dict[str, Any]:
        """Train one epoch and return its record (mean losses, lr, time)."""
        seed = epoch_seed(self.config.seed, epoch)
        torch.manual_seed(seed)
        rng = random.Random(seed)
        self.model.train()
        sums: dict[str, float] = {}
        start = time.perf_counter()
        bar = tqdm(
            self._batches(epoch),
            desc=f"epoch {epoch}/{self.config.epochs}",
            disable=not self.config.progress,
            leave=False,
        )
        for step, batch in enumerate(bar, start=1):
            parts = self._step(batch, rng)
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + value
            bar.set_postfix(loss=f"{parts['loss']:.3f}")
            if step % self.config.log_every == 0:
                self._log(
                    {
                        "event": "step",
                        "epoch": epoch,
                        "step": step,
                        "lr": self.scheduler.get_last_lr()[0],
                        **parts,
                    }
                )
        means = {k: round(v / self.steps_per_epoch, 5) for k, v in sums.items()}
        return {
            "event": "epoch",
            "epoch": epoch,
            **means,
            "lr": self.scheduler.get_last_lr()[0],
            "train_seconds": round(time.perf_counter() - start, 2),
        }

    def _validate(self) -> dict[str, float] | None:
        """Validation metrics, or None without a validation split."""
        if self.val is None or len(self.val) == 0:
            return None
        metrics, _ = split_metrics(
            self.clip, self.val, self.tokenizer, self.device, self.config.eval_batch_size, self.config.amp
        )
        return metrics

    def _log(self, record: dict[str, Any]) -> None:
        """Append one JSON line to the run's log."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with (self.run_dir / LOG_FILE).open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def _state(self, epoch: int, result: FitResult, bad_epochs: int) -> dict[str, Any]:
        """Everything a resume needs."""
        return {
            "epoch": epoch,
            "trainable": checkpoint.trainable_state(self.model),
            "head": self.head.state_dict() if self.head else {},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": result.history,
            "best_epoch": result.best_epoch,
            "best_r1": result.best_r1,
            "bad_epochs": bad_epochs,
            "stopped_early": result.stopped_early,
            "config": self.config.model_dump(mode="json"),
        }

    def _resume(self, result: FitResult) -> tuple[int, int]:
        """Load the newest epoch checkpoint, if any; return (next epoch, epochs without improvement)."""
        path = checkpoint.latest(self.run_dir)
        if path is None:
            return 1, 0
        state = checkpoint.load(path)
        changed = _changed_settings(state["config"], self.config.model_dump(mode="json"))
        if changed:
            raise ValueError(
                f"{path} was trained with other settings ({', '.join(changed)}); use a new --out"
            )
        checkpoint.load_trainable_state(self.model, state["trainable"])
        if self.head:
            self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        result.history = list(state["history"])
        result.best_epoch, result.best_r1 = state["best_epoch"], state["best_r1"]
        result.stopped_early = bool(state["stopped_early"])
        self.echo(f"resumed from {path} (epoch {state['epoch']})")
        return int(state["epoch"]) + 1, int(state["bad_epochs"])

    def fit(self, resume: bool = False) -> FitResult:
        """Train until the last epoch or early stop; leaves the best validation epoch's weights loaded."""
        result = FitResult()
        first, bad_epochs = self._resume(result) if resume else (1, 0)
        for epoch in range(first, self.config.epochs + 1):
            if result.stopped_early:
                break
            record = self._epoch(epoch)
            record["val"] = self._validate()
            r1 = record["val"]["R1"] if record["val"] else None
            if r1 is not None and (result.best_r1 is None or r1 > result.best_r1):
                result.best_r1, result.best_epoch, bad_epochs = r1, epoch, 0
                checkpoint.save_best(self.run_dir, checkpoint.trainable_state(self.model))
            elif r1 is not None:
                bad_epochs += 1
                result.stopped_early = bad_epochs >= self.config.patience
            if r1 is None:
                result.best_epoch = epoch
            result.history.append(record)
            self._log(record)
            self.echo(_summary(record))
            checkpoint.save_epoch(
                self.run_dir, epoch, self._state(epoch, result, bad_epochs), self.config.keep_checkpoints
            )
        best = self.run_dir / checkpoint.CHECKPOINT_DIR / checkpoint.BEST_FILE
        if result.best_r1 is not None and best.is_file():
            checkpoint.load_trainable_state(self.model, checkpoint.load(best))
        return result


def _changed_settings(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Settings that differ between a checkpoint and this run, other than those a resume may change."""
    return sorted(k for k in current if k not in RESUME_MAY_CHANGE and saved.get(k) != current[k])


def _summary(record: dict[str, Any]) -> str:
    """One printed line per epoch."""
    val = record.get("val")
    tail = f"  val R@1 {val['R1']:.1f}  mAP {val['mAP']:.1f}" if val else ""
    head = f"epoch {record['epoch']}: loss {record['loss']:.4f}  lr {record['lr']:.2e}"
    return f"{head}  {record['train_seconds']:.0f}s{tail}"

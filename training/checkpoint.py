"""Per-epoch checkpoints of the trainable state, optimizer and schedule, for resuming a run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

CHECKPOINT_DIR = "checkpoints"
BEST_FILE = "best.pt"
_EPOCH_FILE = re.compile(r"epoch_(\d+)\.pt$")


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the parameters that train (LoRA adapters, or everything when training from scratch)."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Put saved trainable parameters back; a name the model lacks (or misses) is an error."""
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if set(params) != set(state):
        missing, extra = sorted(set(params) - set(state))[:3], sorted(set(state) - set(params))[:3]
        raise ValueError(f"checkpoint does not fit the model: missing {missing}, unexpected {extra}")
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(state[name].to(param.device, param.dtype))


def _atomic_save(obj: dict[str, Any], path: Path) -> Path:
    """torch.save through a temporary file, so a killed run never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
    return path


def epoch_checkpoints(run_dir: Path) -> list[Path]:
    """Epoch checkpoints of a run, oldest first."""
    found = [
        (int(m.group(1)), p)
        for p in (run_dir / CHECKPOINT_DIR).glob("epoch_*.pt")
        if (m := _EPOCH_FILE.search(p.name))
    ]
    return [p for _, p in sorted(found)]


def save_epoch(run_dir: Path, epoch: int, state: dict[str, Any], keep: int) -> Path:
    """Write checkpoints/epoch_NNN.pt and drop all but the newest `keep`."""
    path = _atomic_save(state, run_dir / CHECKPOINT_DIR / f"epoch_{epoch:03d}.pt")
    for old in epoch_checkpoints(run_dir)[:-keep]:
        old.unlink()
    return path


def save_best(run_dir: Path, state: dict[str, torch.Tensor]) -> Path:
    """Write the trainable state of the best epoch so far."""
    return _atomic_save(dict(state), run_dir / CHECKPOINT_DIR / BEST_FILE)


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint (tensors, numbers and plain containers only)."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    return dict(torch.load(path, map_location="cpu", weights_only=True))


def latest(run_dir: Path) -> Path | None:
    """The newest epoch checkpoint of a run, or None."""
    found = epoch_checkpoints(run_dir)
    return found[-1] if found else None

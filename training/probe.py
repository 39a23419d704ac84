"""A probe of what the image embedding encodes: an MLP on frozen embeddings predicts an attribute.

Trained on the train split's embeddings, scored on another split: accuracy (beside the majority-class
baseline), per-class precision and recall, and a confusion-matrix PNG.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix, precision_recall_fscore_support
from torch import nn

from engine.bundle import load_bundle
from training.data.types import PersonDataset
from training.embed import encode_images
from training.samples import SplitData

CONFUSION_FILE = "confusion.png"
PROBE_FILE = "probe.json"


class ProbeHead(nn.Module):
    """Embedding (B, D) -> class logits (B, C): linear, batch norm, ReLU, dropout, linear."""

    def __init__(self, embed_dim: int, num_classes: int, hidden: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(embed_dim, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@dataclass
class ProbeResult:
    """The probe's scores on the evaluation split."""

    attribute: str
    classes: list[str]
    accuracy: float
    majority_baseline: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    train_images: int
    eval_images: int


def attribute_labels(split: PersonDataset, attribute: str) -> list[str]:
    """Each image's value of an attribute; an item without it is an error naming what exists."""
    labels = []
    for item in split.items:
        if attribute not in item.attributes:
            known = ", ".join(sorted(item.attributes)) or "none"
            raise KeyError(f"{item.path} has no attribute {attribute!r}; it has: {known}")
        labels.append(item.attributes[attribute])
    return labels


def fit_head(
    x: torch.Tensor, y: torch.Tensor, num_classes: int, epochs: int, seed: int, batch_size: int = 256
) -> ProbeHead:
    """Train a ProbeHead with AdamW on fixed embeddings."""
    if len(x) < 2:
        raise ValueError("the probe needs at least 2 training images (batch norm)")
    torch.manual_seed(seed)
    head = ProbeHead(x.shape[1], num_classes)
    optimizer = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-3)
    head.train()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            if len(idx) < 2:  # batch norm cannot train on one sample
                continue
            loss = F.cross_entropy(head(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return head.eval()


def plot_confusion(matrix: np.ndarray, classes: list[str], title: str, path: Path) -> Path:
    """A confusion-matrix PNG: rows are true classes, columns predicted."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(classes), 0.6 + 0.6 * len(classes)))
    ConfusionMatrixDisplay(matrix, display_labels=classes).plot(ax=ax, colorbar=False, xticks_rotation=45)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def run_probe(
    bundle: Path,
    dataset: PersonDataset,
    attribute: str,
    out_dir: Path,
    train_split: str = "train",
    eval_split: str = "test",
    epochs: int = 60,
    seed: int = 0,
    batch_size: int = 128,
) -> ProbeResult:
    """Embed both splits with the bundle's image tower, fit the head on one, score and plot the other."""
    model, spec = load_bundle(Path(bundle))
    device = torch.device("cpu")
    splits = {name: dataset.split(name) for name in (train_split, eval_split)}
    for name, part in splits.items():
        if not len(part):
            raise ValueError(f"{dataset.name} has no {name} images to probe")
    labels = {name: attribute_labels(part, attribute) for name, part in splits.items()}
    classes = sorted(set(labels[train_split]) | set(labels[eval_split]))
    feats = {
        name: torch.from_numpy(
            encode_images(model, SplitData.build(part, spec, 1024), device, batch_size, False)
        )
        for name, part in splits.items()
    }
    targets = {name: torch.tensor([classes.index(v) for v in values]) for name, values in labels.items()}
    head = fit_head(feats[train_split], targets[train_split], len(classes), epochs, seed)
    with torch.no_grad():
        predicted = head(feats[eval_split]).argmax(dim=1).numpy()
    truth = targets[eval_split].numpy()
    result = _score(attribute, classes, truth, predicted, np.bincount(targets[train_split].numpy()))
    result.train_images = len(feats[train_split])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_confusion(
        np.array(result.confusion),
        classes,
        f"{attribute}: accuracy {result.accuracy:.1f}%",
        out_dir / CONFUSION_FILE,
    )
    (out_dir / PROBE_FILE).write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result


def _score(
    attribute: str, classes: list[str], truth: np.ndarray, predicted: np.ndarray, train_counts: np.ndarray
) -> ProbeResult:
    """Accuracy, the majority-class baseline, per-class precision/recall and the confusion matrix."""
    indices = list(range(len(classes)))
    precision, recall, _, support = precision_recall_fscore_support(
        truth, predicted, labels=indices, zero_division=0
    )
    per_class: dict[str, dict[str, Any]] = {
        c: {"precision": round(100 * float(p), 2), "recall": round(100 * float(r), 2), "support": int(s)}
        for c, p, r, s in zip(classes, precision, recall, support, strict=True)
    }
    return ProbeResult(
        attribute=attribute,
        classes=classes,
        accuracy=round(100 * float(np.mean(truth == predicted)), 2),
        majority_baseline=round(100 * float(np.mean(truth == int(np.argmax(train_counts)))), 2),
        per_class=per_class,
        confusion=confusion_matrix(truth, predicted, labels=indices).tolist(),
        train_images=0,
        eval_images=len(truth),
    )

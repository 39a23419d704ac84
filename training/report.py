"""The run's report: a before/after metrics table, loss and R@1 curves, and a 2-D map of the gallery.

The map is a PCA projection (linear, fast, deterministic) of the test gallery's image embeddings, one
colour per identity, before and after training side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from sklearn.decomposition import PCA

from training.embed import METRIC_KEYS

CURVES_FILE = "curves.png"
PROJECTION_FILE = "projection.png"
MAX_PROJECTED_IDS = 20  # more colours than this are unreadable


def metrics_table(metrics: dict[str, dict[str, dict[str, float] | None]]) -> str:
    """A text table: one row per (model, split), one column per metric, e.g. metrics['base']['test']."""
    header = f"{'model':<8}{'split':<7}" + "".join(f"{k:>8}" for k in METRIC_KEYS)
    rows = [header]
    for model_name, splits in metrics.items():
        for split, values in splits.items():
            if values:
                rows.append(f"{model_name:<8}{split:<7}" + "".join(f"{values[k]:>8.2f}" for k in METRIC_KEYS))
    return "\n".join(rows)


def plot_curves(history: list[dict[str, Any]], path: Path) -> Path:
    """Training loss (and its parts) and validation R@1 per epoch, in one PNG."""
    epochs = [r["epoch"] for r in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("loss", "sdm", "infonce", "id"):
        if history and key in history[0]:
            left.plot(epochs, [r[key] for r in history], marker="o", label=key)
    left.set(title="training loss", xlabel="epoch", ylabel="loss")
    left.legend()
    val_epochs = [r["epoch"] for r in history if r.get("val")]
    right.plot(val_epochs, [r["val"]["R1"] for r in history if r.get("val")], marker="o", color="tab:green")
    right.set(title="validation R@1", xlabel="epoch", ylabel="R@1 (%)", ylim=(0, 100))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _project(ax: plt.Axes, embeddings: np.ndarray, ids: np.ndarray, title: str) -> None:
    """Scatter a PCA projection of embeddings on one axis, a colour per identity."""
    points = PCA(n_components=2).fit_transform(embeddings) if len(embeddings) > 2 else np.zeros((len(ids), 2))
    palette = plt.get_cmap("tab20")
    for n, pid in enumerate(np.unique(ids)):
        mask = ids == pid
        ax.scatter(points[mask, 0], points[mask, 1], s=14, color=palette(n % 20), label=str(pid))
    ax.set(title=title, xticks=[], yticks=[])


def plot_projection(before: np.ndarray, after: np.ndarray, ids: np.ndarray, path: Path) -> Path:
    """Two PCA maps of gallery embeddings, before and after, for the first identities only."""
    keep = np.isin(ids, np.unique(ids)[:MAX_PROJECTED_IDS])
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    _project(axes[0], before[keep], ids[keep], "before (base)")
    _project(axes[1], after[keep], ids[keep], "after (trained)")
    fig.suptitle(f"test gallery, PCA to 2-D, {len(np.unique(ids[keep]))} identities")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

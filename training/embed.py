"""Encode a split with a CLIP's two towers and score it with the retrieval protocol of training.evaluate."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch
from open_clip.model import CLIP

from engine.tokenizer import Tokenizer
from engine.towers import ImageTower, TextTower
from training.samples import SplitData

METRIC_KEYS = ("R1", "R5", "R10", "mAP", "mINP")


def autocast_for(device: torch.device, amp: bool) -> AbstractContextManager[object]:
    """bf16 autocast on CUDA when asked; fp32 everywhere else (CPU autocast is slow and gains nothing)."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def encode_images(
    clip: CLIP, split: SplitData, device: torch.device, batch_size: int, amp: bool
) -> np.ndarray:
    """Every image of the split -> float32 [N, D] unit vectors."""
    tower, out = ImageTower(clip), []
    for start in range(0, len(split), batch_size):
        pixels = split.pixels(range(start, min(start + batch_size, len(split)))).to(device)
        with autocast_for(device, amp):
            out.append(tower(pixels).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


@torch.no_grad()
def encode_texts(
    clip: CLIP, texts: Sequence[str], tokenizer: Tokenizer, device: torch.device, batch_size: int, amp: bool
) -> np.ndarray:
    """Captions -> float32 [M, D]; batches hold captions of similar length so little is padded."""
    tower = TextTower(clip, tokenizer.eot_id)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.zeros(0)
    chunks = []
    for start in range(0, len(order), batch_size):
        ids, _ = tokenizer([texts[i] for i in order[start : start + batch_size]])
        with autocast_for(device, amp):
            chunks.append(tower(torch.from_numpy(ids).to(device)).float().cpu())
    if chunks:
        out = torch.empty(len(texts), chunks[0].shape[1])
        out[torch.tensor(order)] = torch.cat(chunks)
    return out.numpy()


def split_metrics(
    clip: CLIP, split: SplitData, tokenizer: Tokenizer, device: torch.device, batch_size: int, amp: bool
) -> tuple[dict[str, float], np.ndarray]:
    """R1/R5/R10/mAP/mINP (percent) of text->image retrieval on a split, and its image embeddings."""
    from training.evaluate import retrieval_metrics

    was_training = clip.training
    clip.eval()
    try:
        gallery = encode_images(clip, split, device, batch_size, amp)
        texts, query_ids = split.queries()
        queries = encode_texts(clip, texts, tokenizer, device, batch_size, amp)
    finally:
        clip.train(was_training)
    metrics = retrieval_metrics(queries @ gallery.T, query_ids.tolist(), split.person_ids.tolist())
    return {k: round(float(metrics[k]), 2) for k in METRIC_KEYS}, gallery

"""Augmentation applied after the one preprocess: on the pixel tensor, and on the caption's words."""

from __future__ import annotations

import random

import torch
from torchvision.transforms import v2

from training.config import AugmentSettings


class ImageAugment:
    """Horizontal flip, pad-and-crop and random erasing, drawn independently for every sample."""

    def __init__(self, settings: AugmentSettings, size: tuple[int, int]) -> None:
        h, w = size
        pad = round(settings.pad * w)
        steps: list[torch.nn.Module] = []
        if settings.flip:
            steps.append(v2.RandomHorizontalFlip(p=settings.flip))
        if pad:
            # zero in normalised space is the dataset mean colour: padding looks like a neutral border
            steps.append(v2.RandomCrop((h, w), padding=[pad, pad], fill=0.0))
        if settings.erase:
            steps.append(v2.RandomErasing(p=settings.erase, value=0.0))
        self.transform = v2.Compose(steps) if steps else None

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        """Preprocessed float [B, 3, H, W] -> augmented float [B, 3, H, W] (uses torch's global RNG)."""
        if self.transform is None:
            return pixels
        return torch.stack([self.transform(p) for p in pixels])


def drop_words(text: str, p: float, rng: random.Random) -> str:
    """Delete each word with probability p, always keeping at least one."""
    words = text.split()
    if p <= 0 or len(words) < 2:
        return text
    kept = [w for w in words if rng.random() >= p]
    return " ".join(kept) if kept else words[rng.randrange(len(words))]

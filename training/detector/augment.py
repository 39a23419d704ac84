"""Batch augmentation for the detector, in torch: zoom and shift, flips, channel order, gain and offset.

Synthetic cameras differ in background, palette and framing, and a held-out camera shares none of them,
so every batch is re-framed (one affine warp per image, padded with the letterbox grey) and re-coloured.
Boxes follow the warp and are clipped; a person left with under half its box in view becomes an ignore
region, one left with none is dropped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ZOOM = (0.6, 1.5)
SHIFT = 0.25  # of the input size, each way
KEEP = 0.5  # fraction of a box that must stay in view for it to remain a positive


def _warp(x: torch.Tensor, zoom: torch.Tensor, shift: torch.Tensor, pad: float) -> torch.Tensor:
    """Scale each image (B, 3, H, W) about its centre by zoom (B,) and move it by shift (B, 2) pixels."""
    b, _, h, w = x.shape
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / zoom
    theta[:, 0, 2] = -shift[:, 0] * 2 / w / zoom
    theta[:, 1, 2] = -shift[:, 1] * 2 / h / zoom
    grid = F.affine_grid(theta, [b, 3, h, w], align_corners=False)
    return F.grid_sample(x - pad, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + pad


def _move_boxes(
    boxes: torch.Tensor, ignore: torch.Tensor, zoom: float, shift: torch.Tensor, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes (K, 4) through the warp, clipped; under-KEEP boxes become ignored, empty ones are dropped."""
    h, w = size
    centre = torch.tensor([w / 2, h / 2, w / 2, h / 2])
    moved = (boxes - centre) * zoom + centre + shift.repeat(2)
    clipped = torch.stack(
        [moved[:, 0].clamp(0, w), moved[:, 1].clamp(0, h), moved[:, 2].clamp(0, w), moved[:, 3].clamp(0, h)],
        1,
    )
    area = lambda b: (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)  # noqa: E731
    kept = area(clipped) / area(moved).clamp(min=1e-6)
    alive = kept > 0
    return clipped[alive], (ignore | (kept < KEEP))[alive]


def augment(
    images: torch.Tensor,
    boxes: list[torch.Tensor],
    ignore: list[torch.Tensor],
    pad: float,
    gen: torch.Generator,
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """uint8 (B, 3, H, W) letterboxed frames and their persons -> an augmented float batch in [0, 1]."""
    x = images.float() / 255.0
    b, _, h, w = x.shape
    flips = torch.rand(b, generator=gen) < 0.5
    x[flips] = x[flips].flip(-1)
    boxes = [
        torch.stack([w - k[:, 2], k[:, 1], w - k[:, 0], k[:, 3]], 1) if f else k
        for k, f in zip(boxes, flips, strict=True)
    ]
    zoom = ZOOM[0] + (ZOOM[1] - ZOOM[0]) * torch.rand(b, generator=gen)
    shift = SHIFT * (2 * torch.rand(b, 2, generator=gen) - 1) * torch.tensor([w, h])
    x = _warp(x, zoom, shift, pad)
    moved = [
        _move_boxes(k, i, float(z), s, (h, w)) for k, i, z, s in zip(boxes, ignore, zoom, shift, strict=True)
    ]
    order = torch.stack([torch.randperm(3, generator=gen) for _ in range(b)])  # (B, 3) channel order
    x = torch.gather(x, 1, order[:, :, None, None].expand(-1, -1, h, w))
    gain = 0.4 + 0.9 * torch.rand(b, 1, 1, 1, generator=gen)  # down to a dim night
    offset = 0.15 * (torch.rand(b, 1, 1, 1, generator=gen) - 0.5)
    return (x * gain + offset).clamp(0, 1), [m[0] for m in moved], [m[1] for m in moved]

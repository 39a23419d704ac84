"""The demo's tiny one-class detector: a few strided convolutions and an anchor-free grid head (as YOLOv8).

Each cell of the stride-8 grid predicts its distances to the box sides (left, top, right, bottom) and one
person logit. `YoloLayout` wraps it for export in the YOLOv8/YOLO11 layout: [B, 5, N] = cx, cy, w, h in
input pixels and the sigmoid score, cells in row-major order, no NMS.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 8


def conv(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, SiLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.SiLU(inplace=True),
    )


class TinyDetector(nn.Module):
    """Pixels (B, 3, H, W) in [0, 1] -> raw head maps (B, 5, H/8, W/8): 4 side distances and a logit.

    A stride-16 branch gives each cell the context of a whole standing person and is added back at
    stride 8, where the head predicts (H and W must be multiples of 16).
    """

    def __init__(self, width: int = 48) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv(3, 16, 2), conv(16, 32, 2), conv(32, width, 2))  # (B, width, H/8, W/8)
        self.context = nn.Sequential(
            conv(width, 2 * width, 2), conv(2 * width, 2 * width), conv(2 * width, width, dilation=2)
        )  # (B, width, H/16, W/16)
        self.fuse = conv(width, width)
        self.head = nn.Sequential(conv(width, width), nn.Conv2d(width, 5, 1))
        bias = self.head[-1].state_dict()["bias"]
        nn.init.constant_(bias[4:], -4.0)  # start near "no person" everywhere (a focal-loss-style prior)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        fine = self.stem(pixels)
        coarse = F.interpolate(self.context(fine), scale_factor=2.0, mode="nearest")
        return self.head(self.fuse(fine + coarse))  # (B, 5, h, w)


def cell_centres(h: int, w: int, device: torch.device | None = None) -> torch.Tensor:
    """(h*w, 2) x, y input-pixel centres of the grid cells, row-major."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return (torch.stack([xs, ys], dim=-1).reshape(-1, 2).float() + 0.5) * STRIDE


def decode(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw maps (B, 5, h, w) -> boxes (B, N, 4) x1, y1, x2, y2 in input pixels and logits (B, N)."""
    h, w = raw.shape[2:]
    flat = raw.flatten(2).transpose(1, 2)  # (B, N, 5)
    sides = F.softplus(flat[..., :4]) * STRIDE  # (B, N, 4) left, top, right, bottom
    centres = cell_centres(h, w, raw.device)  # (N, 2)
    boxes = torch.cat([centres - sides[..., :2], centres + sides[..., 2:]], dim=-1)
    return boxes, flat[..., 4]


class YoloLayout(nn.Module):
    """The exported graph: pixels (B, 3, H, W) -> (B, 5, N) cx, cy, w, h, score (YOLOv8's output layout)."""

    def __init__(self, detector: TinyDetector) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        boxes, logits = decode(self.detector(pixels))  # (B, N, 4), (B, N)
        centre, size = (boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]
        return torch.cat([centre, size, torch.sigmoid(logits)[..., None]], dim=-1).transpose(1, 2)

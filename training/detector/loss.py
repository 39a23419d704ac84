"""Targets and loss of the tiny detector: centre sampling, BCE on the person logit, GIoU on the boxes.

A cell is positive for a person whose box contains the cell centre within RADIUS cells of the box centre
(the cell holding the box centre always is); a cell claimed by several persons goes to the smallest box.
A positive's score target is the IoU of its predicted box with its person, so scores rank boxes by fit.
Persons with visibility below the threshold are ignored: never positives, and the cells inside them that
no other person claims are left out of the BCE (neither person nor background).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou, generalized_box_iou_loss

from training.detector.model import STRIDE, cell_centres, decode

RADIUS = 2.5  # in cells
BOX_WEIGHT = 2.0


def assign(
    gt: torch.Tensor, ignore: torch.Tensor, grid: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Persons (K, 4) x1, y1, x2, y2 and ignore flags (K,) -> per cell (N,) the person index or -1, and
    whether the cell is ignored."""
    h, w = grid
    centres = cell_centres(h, w, gt.device)  # (N, 2)
    n = len(centres)
    if len(gt) == 0:
        return torch.full((n,), -1, dtype=torch.long), torch.zeros(n, dtype=torch.bool)
    x, y = centres[:, :1], centres[:, 1:]  # (N, 1)
    inside = (x > gt[:, 0]) & (x < gt[:, 2]) & (y > gt[:, 1]) & (y < gt[:, 3])  # (N, K)
    middle = (gt[:, :2] + gt[:, 2:]) / 2  # (K, 2)
    near = ((centres[:, None, :] - middle[None]).abs() < RADIUS * STRIDE).all(dim=-1)  # (N, K)
    claims = inside & near
    col = (middle[:, 0] // STRIDE).clamp(0, w - 1).long()
    row = (middle[:, 1] // STRIDE).clamp(0, h - 1).long()
    claims[row * w + col, torch.arange(len(gt))] = True
    claims[:, ignore] = False
    area = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    ranked = torch.where(claims, area[None, :], torch.full_like(claims, float("inf"), dtype=area.dtype))
    owner = torch.where(claims.any(dim=1), ranked.argmin(dim=1), torch.full((n,), -1, dtype=torch.long))
    ignored = inside[:, ignore].any(dim=1) & (owner < 0)
    return owner, ignored


def detection_loss(
    raw: torch.Tensor, gts: list[torch.Tensor], ignores: list[torch.Tensor]
) -> tuple[torch.Tensor, dict[str, float]]:
    """Raw maps (B, 5, h, w) and per-image persons -> the loss (BCE + BOX_WEIGHT * GIoU) and its parts."""
    boxes, logits = decode(raw)  # (B, N, 4), (B, N)
    grid = (raw.shape[2], raw.shape[3])
    targets, weights, pred, matched = [], [], [], []
    for i, (gt, ignore) in enumerate(zip(gts, ignores, strict=True)):
        owner, ignored = assign(gt, ignore, grid)
        positive = owner >= 0
        targets.append(positive.float())
        weights.append((~ignored).float())
        pred.append(boxes[i][positive])
        matched.append(gt[owner[positive]])
    positives = max(1.0, float(sum(len(p) for p in pred)))
    pred_boxes, gt_boxes = torch.cat(pred), torch.cat(matched)
    target = torch.stack(targets)
    with torch.no_grad():  # a positive's score target is how well its box fits (IoU-aware, as VarifocalNet)
        target[target > 0] = box_iou(pred_boxes, gt_boxes).diagonal().clamp(min=0.0)
    bce = F.binary_cross_entropy_with_logits(logits, target, weight=torch.stack(weights), reduction="sum")
    giou = generalized_box_iou_loss(pred_boxes, gt_boxes, reduction="sum")
    score, box = bce / positives, giou / positives
    loss = score + BOX_WEIGHT * box
    return loss, {"score": score.item(), "box": box.item()}

"""Retrieval losses on unit-length image and text embeddings: symmetric InfoNCE, SDM, and an ID loss.

SDM (similarity distribution matching) is the image-text loss of the text-to-person work: the softmax
over a batch's similarities should match the distribution of same-identity labels, in both directions, so
two captions of one person are not pushed apart as InfoNCE would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from training.config import LossWeights

EPSILON = 1e-8  # keeps log(q) finite where the label distribution is zero


def infonce(image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """Symmetric InfoNCE: cross-entropy of image->text and text->image logits against the diagonal."""
    logits = scale * image @ text.T  # (B, B)
    target = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def sdm(
    image: torch.Tensor, text: torch.Tensor, person_ids: torch.Tensor, scale: torch.Tensor | float
) -> torch.Tensor:
    """KL(softmax(scale * sim) || same-identity distribution), image->text plus text->image, batch mean."""
    same = (person_ids[:, None] == person_ids[None, :]).float()  # (B, B)
    labels = same / same.sum(dim=1, keepdim=True)
    log_labels = torch.log(labels + EPSILON)
    logits = scale * image @ text.T  # (B, B)
    total = logits.new_zeros(())
    for direction in (logits, logits.T):
        log_p = F.log_softmax(direction, dim=1)
        total = total + (log_p.exp() * (log_p - log_labels)).sum(dim=1).mean()
    return total


class IdentityHead(nn.Module):
    """A linear classifier over the training identities, shared by both towers' embeddings."""

    def __init__(self, embed_dim: int, num_ids: int) -> None:
        super().__init__()
        self.classifier = nn.Linear(embed_dim, num_ids)

    def forward(self, image: torch.Tensor, text: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of identity predictions from image and from text embeddings."""
        return (
            F.cross_entropy(self.classifier(image), labels) + F.cross_entropy(self.classifier(text), labels)
        ) / 2


def total_loss(
    weights: LossWeights,
    image: torch.Tensor,
    text: torch.Tensor,
    person_ids: torch.Tensor,
    scale: torch.Tensor,
    head: IdentityHead | None = None,
    labels: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The weighted sum of the enabled losses, and each one's value for the log."""
    parts: dict[str, torch.Tensor] = {}
    if weights.sdm:
        parts["sdm"] = weights.sdm * sdm(image, text, person_ids, scale)
    if weights.infonce:
        parts["infonce"] = weights.infonce * infonce(image, text, scale)
    if weights.id:
        if head is None or labels is None:
            raise ValueError("the ID loss needs an IdentityHead and 0-based identity labels")
        parts["id"] = weights.id * head(image.float(), text.float(), labels)
    if not parts:
        raise ValueError("every loss weight is 0: nothing to train")
    loss = torch.stack(list(parts.values())).sum()
    return loss, {name: float(value.detach()) for name, value in parts.items()}

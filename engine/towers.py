"""The two towers as torch modules with unit-length outputs: what the torch backend runs and ONNX exports."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from torch import nn


class ImageTower(nn.Module):
    """Pixels (B, 3, H, W) -> unit-length embeddings (B, D)."""

    def __init__(self, clip: CLIP) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.clip.visual(pixels), dim=-1)


class TextTower(nn.Module):
    """Token ids (B, L), L <= context length -> unit-length embeddings (B, D).

    The text transformer is causal, so the end-of-text token only attends to tokens before it: running on
    the batch's real length gives the same embedding as running on the zero-padded full context, faster.
    """

    def __init__(self, clip: CLIP) -> None:
        super().__init__()
        if clip.text_pool_type not in ("argmax", "eos"):
            raise ValueError(f"text pooling {clip.text_pool_type!r} depends on padding; need argmax or eos")
        self.clip = clip

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        clip, length = self.clip, ids.shape[1]
        x = clip.token_embedding(ids) + clip.positional_embedding[:length]  # (B, L, W)
        x = clip.transformer(x, attn_mask=clip.attn_mask[:length, :length])
        x = clip.ln_final(x)
        if clip.text_pool_type == "argmax":
            eot = ids.argmax(dim=-1)  # the end-of-text id is the largest id in each row
        else:
            eot = (ids == clip.text_eos_id).int().argmax(dim=-1)
        x = x[torch.arange(x.shape[0], device=x.device), eot]  # (B, W)
        proj = clip.text_projection
        x = proj(x) if isinstance(proj, nn.Linear) else x @ proj  # (B, D)
        return F.normalize(x, dim=-1)

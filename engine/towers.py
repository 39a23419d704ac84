"""The two towers as torch modules with unit-length outputs: what the torch backend runs and ONNX exports."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from torch import nn

from engine.graph_io import Tower


class ImageTower(nn.Module):
    """Pixels (B, 3, H, W) -> unit-length embeddings (B, D)."""

    def __init__(self, clip: CLIP) -> None:
        super().__init__()
        self.clip = clip

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.clip.visual(pixels), dim=-1)


class TextTower(nn.Module):
    """Token ids (B, L), L <= context length -> unit-length embeddings (B, D), pooled at the end-of-text.

    The text transformer is causal, so the end-of-text token only attends to tokens before it: running on
    the batch's real length gives the same embedding as running on the zero-padded full context, faster.
    `eot_id` is the tokenizer's end-of-text id; open_clip's `argmax` pooling finds it as the largest id of
    a row, which holds only for CLIP's vocabulary, so the position is found by the id itself.
    """

    def __init__(self, clip: CLIP, eot_id: int) -> None:
        super().__init__()
        if clip.text_pool_type not in ("argmax", "eos"):
            raise ValueError(f"text pooling {clip.text_pool_type!r} depends on padding; need argmax or eos")
        if clip.text_pool_type == "eos" and clip.text_eos_id != eot_id:
            raise ValueError(
                f"the model pools at id {clip.text_eos_id}, the tokenizer ends text with {eot_id}"
            )
        self.clip, self.eot_id = clip, eot_id

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        clip, length = self.clip, ids.shape[1]
        x = clip.token_embedding(ids) + clip.positional_embedding[:length]  # (B, L, W)
        x = clip.transformer(x, attn_mask=clip.attn_mask[:length, :length])
        x = clip.ln_final(x)
        eot = (ids == self.eot_id).float().argmax(dim=-1)  # (B,) first end-of-text position per row
        x = x[torch.arange(x.shape[0], device=x.device), eot]  # (B, W)
        proj = clip.text_projection
        x = proj(x) if isinstance(proj, nn.Linear) else x @ proj  # (B, D)
        return F.normalize(x, dim=-1)


def tower_module(clip: CLIP, tower: Tower, eot_id: int) -> nn.Module:
    """The torch module of a tower in eval mode: what the torch backend runs and ONNX export traces."""
    return (ImageTower(clip) if tower == Tower.IMAGE else TextTower(clip, eot_id)).eval()

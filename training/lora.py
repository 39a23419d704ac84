"""LoRA through peft on an open_clip CLIP: wrap the chosen towers and layers, count, and merge back.

peft wraps `nn.MultiheadAttention` (q, k, v and out_proj together) by merging the adapter into the weights
for each forward and unmerging after, so the wrapped model and the merged one compute the same thing.
"""

from __future__ import annotations

from typing import Any

import torch
from open_clip.model import CLIP
from peft import LoraConfig, PeftModel, get_peft_model

from engine.graph_io import Tower
from training.config import EmbeddingMode, LoraSettings, LoraTarget

_TOWER_PREFIX = {Tower.IMAGE: r"visual\.transformer", Tower.TEXT: r"transformer"}
_TARGET_LAYERS = {LoraTarget.ATTN: r"attn", LoraTarget.MLP: r"mlp\.c_fc|mlp\.c_proj"}
TOKEN_EMBEDDING = "token_embedding"


def target_pattern(settings: LoraSettings) -> str:
    """The regex (peft full-matches it against module names) of every module that gets an adapter."""
    layers = "|".join(_TARGET_LAYERS[t] for t in settings.targets)
    towers = "|".join(_TOWER_PREFIX[t] for t in settings.towers)
    parts = [rf"(?:{towers})\.resblocks\.\d+\.(?:{layers})"] if layers and towers else []
    if settings.embedding == EmbeddingMode.LORA:
        parts.append(TOKEN_EMBEDDING)
    if not parts:
        raise ValueError("LoRA has nothing to adapt: give at least one target and tower, or embedding=lora")
    return "|".join(parts)


def lora_config(settings: LoraSettings) -> LoraConfig:
    """The peft LoraConfig for our settings (embedding rank may differ from the blocks' rank)."""
    pattern = target_pattern(settings)
    rank_pattern = {TOKEN_EMBEDDING: settings.embedding_rank} if settings.embedding_rank else {}
    return LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=pattern,
        rank_pattern=rank_pattern,
        init_lora_weights=settings.init_weights,
    )


def wrap(model: CLIP, settings: LoraSettings) -> PeftModel:
    """Inject LoRA adapters; only they (plus the embedding table or logit scale when asked) train."""
    if settings.embedding != EmbeddingMode.FROZEN and Tower.TEXT not in settings.towers:
        raise ValueError("embedding adaptation belongs to the text tower; add 'text' to towers or freeze it")
    peft_model = get_peft_model(model, lora_config(settings))
    clip = unwrap(peft_model)
    if settings.embedding == EmbeddingMode.FULL:
        clip.token_embedding.weight.requires_grad_(True)
    if settings.train_logit_scale:
        clip.logit_scale.requires_grad_(True)
    return peft_model


def unwrap(peft_model: PeftModel) -> CLIP:
    """The CLIP inside a peft model, with its adapters in place (what the towers run)."""
    clip = peft_model.base_model.model
    if not isinstance(clip, CLIP):
        raise TypeError(f"expected an open_clip CLIP inside the peft model, found {type(clip).__name__}")
    return clip


def merge(peft_model: PeftModel) -> CLIP:
    """Fold the adapters into the weights: a plain open_clip CLIP with the base's state-dict keys."""
    merged = peft_model.merge_and_unload()
    if not isinstance(merged, CLIP):
        raise TypeError(f"merge_and_unload returned {type(merged).__name__}, not an open_clip CLIP")
    for param in merged.parameters():
        param.requires_grad_(False)
    return merged.eval()


def trainable_counts(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def trainable_share(model: torch.nn.Module) -> str:
    """A line saying how many parameters train and what share of all they are."""
    trainable, total = trainable_counts(model)
    return f"trainable params: {trainable:,} of {total:,} ({100 * trainable / max(total, 1):.2f}%)"


def describe(settings: LoraSettings) -> dict[str, Any]:
    """The LoRA configuration as recorded in a bundle's provenance."""
    return {**settings.model_dump(mode="json"), "target_modules": target_pattern(settings)}

"""LoRA wrapping: which parameters train, and how many, counted from the architecture by hand."""

from __future__ import annotations

import pytest
import torch

from engine.graph_io import Tower
from engine.model import build_model
from engine.registry import resolve_config
from engine.spec import ModelSpec
from training import lora
from training.config import EmbeddingMode, LoraSettings, LoraTarget


def _expected(spec: ModelSpec, settings: LoraSettings) -> int:
    """LoRA A (r x in) and B (out x r) per adapted matrix, from the block shapes of the config."""
    config = resolve_config(spec)
    r, count = settings.rank, 0
    for tower, cfg in ((Tower.IMAGE, config["vision_cfg"]), (Tower.TEXT, config["text_cfg"])):
        if tower not in settings.towers:
            continue
        w = cfg["width"]
        per_block = 0
        if LoraTarget.ATTN in settings.targets:
            per_block += r * w + 3 * w * r + r * w + w * r  # in_proj (q, k, v) and out_proj
        if LoraTarget.MLP in settings.targets:
            per_block += (r * w + 4 * w * r) + (r * 4 * w + w * r)  # c_fc and c_proj
        count += per_block * cfg["layers"]
    text = config["text_cfg"]
    if settings.embedding == EmbeddingMode.LORA:
        count += (settings.embedding_rank or r) * (text["vocab_size"] + text["width"])
    if settings.embedding == EmbeddingMode.FULL:
        count += text["vocab_size"] * text["width"]
    return count + (1 if settings.train_logit_scale else 0)


CASES = {
    "default": LoraSettings(rank=4),
    "embedding-rank": LoraSettings(rank=4, embedding_rank=2),
    "attn-frozen-embedding-scale": LoraSettings(
        rank=8, targets=[LoraTarget.ATTN], embedding=EmbeddingMode.FROZEN, train_logit_scale=True
    ),
    "mlp-full-embedding": LoraSettings(rank=2, targets=[LoraTarget.MLP], embedding=EmbeddingMode.FULL),
    "text-only": LoraSettings(rank=4, towers=[Tower.TEXT]),
}


@pytest.mark.parametrize("settings", CASES.values(), ids=CASES.keys())
def test_only_lora_params_train_and_the_share_is_right(settings: LoraSettings, micro_spec: ModelSpec) -> None:
    torch.manual_seed(0)
    model = build_model(micro_spec)
    total_before = sum(p.numel() for p in model.parameters())
    wrapped = lora.wrap(model, settings)
    trainable = {n: p for n, p in wrapped.named_parameters() if p.requires_grad}
    allowed = {"token_embedding.weight"} if settings.embedding == EmbeddingMode.FULL else set()
    allowed |= {"logit_scale"} if settings.train_logit_scale else set()
    for name in trainable:
        assert "lora_" in name or name.removeprefix("base_model.model.") in allowed, name
    if Tower.IMAGE not in settings.towers:
        assert not any(".visual." in n for n in trainable)
    n_train, n_total = lora.trainable_counts(wrapped)
    assert n_train == _expected(micro_spec, settings)
    assert n_total == total_before + sum(p.numel() for n, p in trainable.items() if "lora_" in n)
    assert f"{100 * n_train / n_total:.2f}%" in lora.trainable_share(wrapped)


def test_bad_settings_fail_with_a_reason(micro_spec: ModelSpec) -> None:
    with pytest.raises(ValueError, match="text tower"):
        lora.wrap(build_model(micro_spec), LoraSettings(towers=[Tower.IMAGE], embedding=EmbeddingMode.LORA))
    with pytest.raises(ValueError, match="nothing to adapt"):
        lora.target_pattern(LoraSettings(targets=[], embedding=EmbeddingMode.FROZEN))

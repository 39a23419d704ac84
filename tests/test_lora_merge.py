"""Merging LoRA into the weights: the merged plain CLIP embeds exactly as the adapted model does.

The adapters start from non-zero weights (init_weights=False -> peft's init_lora_weights=False); with the
default initialisation LoRA is a no-op and an equality test would prove nothing.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from open_clip.model import CLIP

from engine.bundle import load_bundle, save_bundle
from engine.graph_io import Tower
from engine.model import build_model
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer
from engine.towers import ImageTower, TextTower
from training import lora
from training.config import EmbeddingMode, LoraSettings, LoraTarget

TOKENIZER = Tokenizer()
CASES = {
    "attn+mlp+embedding-lora": LoraSettings(rank=4, init_weights=False),
    "attn-only": LoraSettings(
        rank=2, targets=[LoraTarget.ATTN], embedding=EmbeddingMode.FROZEN, init_weights=False
    ),
    "mlp+embedding-full": LoraSettings(
        rank=3, targets=[LoraTarget.MLP], embedding=EmbeddingMode.FULL, init_weights=False
    ),
    "image-tower-only": LoraSettings(
        rank=4, towers=[Tower.IMAGE], embedding=EmbeddingMode.FROZEN, init_weights=False
    ),
}


def _inputs(spec: ModelSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """A few pixels and token rows of different real lengths, each ending in the end-of-text id."""
    gen = torch.Generator().manual_seed(1)
    pixels = torch.randn(3, 3, *spec.image_size, generator=gen)
    ids = torch.zeros(3, 9, dtype=torch.long)
    for row, length in enumerate((9, 5, 7)):
        ids[row, 0], ids[row, 1 : length - 1], ids[row, length - 1] = (
            TOKENIZER.sot_id,
            torch.randint(1, 49000, (length - 2,), generator=gen),
            TOKENIZER.eot_id,
        )
    return pixels, ids


@torch.no_grad()
def _embed(clip: CLIP, pixels: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    clip.eval()
    return ImageTower(clip)(pixels), TextTower(clip, TOKENIZER.eot_id)(ids)


@pytest.mark.parametrize("settings", CASES.values(), ids=CASES.keys())
def test_merged_model_embeds_as_the_lora_model(
    settings: LoraSettings, micro_spec: ModelSpec, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    base = build_model(micro_spec)
    pixels, ids = _inputs(micro_spec)
    base_image, base_text = _embed(copy.deepcopy(base), pixels, ids)
    wrapped = lora.wrap(base, settings)
    clip = lora.unwrap(wrapped)
    if settings.embedding == EmbeddingMode.FULL:
        with torch.no_grad():  # a trained table: move it, or the equality says nothing about it
            clip.token_embedding.weight.add_(0.05 * torch.randn_like(clip.token_embedding.weight))
    lora_image, lora_text = _embed(clip, pixels, ids)

    # the adapters really change what the towers compute (image always; text unless only image is adapted)
    assert (lora_image - base_image).abs().max() > 1e-3 or Tower.IMAGE not in settings.towers
    assert (lora_text - base_text).abs().max() > 1e-3 or settings.towers == [Tower.IMAGE]

    merged = lora.merge(wrapped)
    assert type(merged) is CLIP
    assert set(merged.state_dict()) == set(build_model(micro_spec).state_dict())
    merged_image, merged_text = _embed(merged, pixels, ids)
    torch.testing.assert_close(merged_image, lora_image, atol=1e-5, rtol=0)
    torch.testing.assert_close(merged_text, lora_text, atol=1e-5, rtol=0)

    save_bundle(merged, micro_spec, tmp_path)
    loaded, _ = load_bundle(tmp_path, verify=True)
    loaded_image, loaded_text = _embed(loaded, pixels, ids)
    torch.testing.assert_close(loaded_image, lora_image, atol=1e-5, rtol=0)
    torch.testing.assert_close(loaded_text, lora_text, atol=1e-5, rtol=0)

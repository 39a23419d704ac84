"""Model core: registry, build, bundles, model_id, pretrained loading and position-embedding resize."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.bundle import load_bundle, save_bundle
from engine.model import (
    WeightsUnavailableError,
    build_model,
    create_model,
    load_pretrained,
    model_id_of,
    new_spec,
)
from engine.registry import arch_config, list_archs
from engine.spec import ModelSpec
from engine.towers import ImageTower, TextTower


def test_unknown_arch_lists_what_exists() -> None:
    with pytest.raises(KeyError, match="PS-Tiny"):
        arch_config("No-Such-Net")
    assert {"PS-Tiny", "PS-Micro", "ViT-B-16"} <= set(list_archs())


def test_spec_json_roundtrip(tmp_path: Path) -> None:
    spec = new_spec("PS-Tiny", overrides={"vision_cfg": {"layers": 2}})
    spec.provenance = {"data": "synthetic"}
    spec.save(tmp_path)
    again = ModelSpec.load(tmp_path)
    assert again == spec
    assert again.image_size == (96, 32) and again.context_length == 40 and again.embed_dim == 128


def test_defaults_are_person_crops_for_open_clip_archs() -> None:
    spec = new_spec("ViT-B-16")
    assert spec.image_size == (384, 128) and spec.context_length == 77 and spec.embed_dim == 512


def test_tiny_builds_fast() -> None:
    start = time.perf_counter()
    model = build_model(new_spec("PS-Tiny"))
    assert time.perf_counter() - start < 3.0
    assert model.visual.grid_size == (12, 4)


def test_bundle_roundtrip_gives_identical_embeddings(
    tmp_path: Path, micro_spec: ModelSpec, eot_id: int
) -> None:
    torch.manual_seed(1)
    model = build_model(micro_spec)
    saved = save_bundle(model, micro_spec, tmp_path)
    loaded, spec = load_bundle(tmp_path, verify=True)
    assert spec.model_id == saved.model_id == model_id_of(model)
    pixels = torch.randn(3, 3, *micro_spec.image_size)
    ids = torch.tensor([[49406, 320, 786, 49407], [49406, 320, 49407, 0]])
    with torch.inference_mode():
        np.testing.assert_array_equal(ImageTower(model)(pixels), ImageTower(loaded)(pixels))
        np.testing.assert_array_equal(TextTower(model, eot_id)(ids), TextTower(loaded, eot_id)(ids))


def test_model_id_changes_with_weights(micro_spec: ModelSpec) -> None:
    torch.manual_seed(2)
    model = build_model(micro_spec)
    before = model_id_of(model)
    assert model_id_of(model) == before
    with torch.no_grad():
        model.logit_scale.add_(1e-3)
    assert model_id_of(model) != before


def test_corrupt_bundle_is_named(tmp_path: Path, micro_bundle: Path) -> None:
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ValueError, match="model.json"):
        load_bundle(tmp_path)
    with pytest.raises(FileNotFoundError, match="model.json"):
        load_bundle(tmp_path / "missing")


def test_checkpoint_file_loads_with_position_embeddings_interpolated(tmp_path: Path) -> None:
    torch.manual_seed(3)
    square = build_model(new_spec("PS-Micro", image_size=(32, 32)))  # 4x4 grid, like a pretrained CLIP
    path = tmp_path / "square.pt"
    torch.save(square.state_dict(), path)
    model, spec = load_pretrained(f"PS-Micro:{path}", image_size=(48, 16))  # 6x2 grid
    old, new = square.visual.positional_embedding, model.visual.positional_embedding
    assert new.shape == (1 + 6 * 2, old.shape[1])
    torch.testing.assert_close(new[0], old[0])  # the class token is kept as it is
    assert spec.image_size == (48, 16) and spec.model_id == model_id_of(model)
    torch.testing.assert_close(model.token_embedding.weight, square.token_embedding.weight)


def test_missing_checkpoint_and_unknown_tag_are_clear(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        load_pretrained(f"PS-Micro:{tmp_path / 'nope.pt'}")
    with pytest.raises(WeightsUnavailableError, match="known tags"):
        load_pretrained("ViT-B-16:no-such-tag")
    with pytest.raises(ValueError, match="ARCH:TAG"):
        load_pretrained("ViT-B-16")


def test_pretrained_weights_offline_give_a_clear_error() -> None:
    code = (
        "from engine.model import load_pretrained, WeightsUnavailableError\n"
        "try:\n    load_pretrained('ViT-B-16:openai')\n"
        "except WeightsUnavailableError as e:\n    print('CLEAR', e)\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HF_HOME": "/nonexistent-hf-home"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "CLEAR" in out.stdout and "ViT-B-16:/path/to/weights.bin" in out.stdout, out.stderr[-2000:]


@pytest.mark.slow
def test_real_vit_b16_at_person_crop_size_encodes(eot_id: int) -> None:
    model, spec = create_model("ViT-B-16")
    assert spec.image_size == (384, 128) and model.visual.grid_size == (24, 8)
    with torch.inference_mode():
        image = ImageTower(model)(torch.randn(1, 3, 384, 128))
        text = TextTower(model, eot_id)(torch.tensor([[49406, 320, 786, 49407]]))
    assert image.shape == text.shape == (1, 512)
    torch.testing.assert_close(image.norm(dim=-1), torch.ones(1))

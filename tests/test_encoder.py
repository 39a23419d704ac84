"""load_encoder and the torch backend; the text tower on real length equals the full-context reference."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cli import app
from engine import Backend, load_encoder
from engine.bundle import load_bundle
from engine.tokenizer import Tokenizer
from engine.towers import ImageTower, TextTower

TEXTS = [
    "a man in a grey hoodie, blue jeans and white sneakers carrying a black backpack",
    "woman, red coat",
    "a person with long brown hair wearing a green dress and black shoes, holding a small white handbag",
]


def test_real_length_equals_full_context_and_open_clip(micro_bundle: Path) -> None:
    model, spec = load_bundle(micro_bundle)
    tokenizer = Tokenizer(context_length=spec.context_length)
    trimmed, _ = tokenizer(TEXTS)
    padded, _ = tokenizer(TEXTS, pad_to=spec.context_length)
    assert trimmed.shape[1] < padded.shape[1]
    with torch.inference_mode():
        short = TextTower(model, tokenizer.eot_id)(torch.from_numpy(trimmed))
        full = TextTower(model, tokenizer.eot_id)(torch.from_numpy(padded))
        reference = model.encode_text(torch.from_numpy(padded), normalize=True)
    torch.testing.assert_close(short, full, atol=1e-5, rtol=0)
    torch.testing.assert_close(short, reference, atol=1e-5, rtol=0)


def test_text_tower_pools_at_the_given_end_of_text_id_not_the_largest_id(micro_bundle: Path) -> None:
    model, _ = load_bundle(micro_bundle)
    eot = 500  # an end-of-text id that is not the largest id of its row
    row = torch.tensor([[1, 7000, 300, eot, 9000, 0]])
    with torch.inference_mode():
        pooled = TextTower(model, eot)(row)
        up_to_eot = TextTower(model, eot)(row[:, :4])  # causal: what follows the end of text is unseen
        at_largest = TextTower(model, 9000)(row[:, :5])  # where argmax-of-ids pooling would land
    torch.testing.assert_close(pooled, up_to_eot, atol=1e-5, rtol=0)
    assert float((pooled * at_largest).sum()) < 0.999


def test_torch_encoder_matches_towers(micro_bundle: Path, person_images: list[Image.Image]) -> None:
    encoder = load_encoder(micro_bundle, backend="torch", max_batch=2)
    assert encoder.backend == Backend.TORCH and encoder.device == "cpu"
    images = encoder.encode_images(person_images)
    texts = encoder.encode_texts(TEXTS)
    assert images.shape == (len(person_images), encoder.embed_dim) and images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    model, _ = load_bundle(micro_bundle)
    with torch.inference_mode():
        want = ImageTower(model)(torch.from_numpy(encoder.preprocess(person_images))).numpy()
    np.testing.assert_allclose(images, want, atol=1e-5)
    assert encoder.describe()["model_id"] == encoder.spec.model_id != ""


def test_empty_inputs_give_empty_arrays(micro_bundle: Path) -> None:
    encoder = load_encoder(micro_bundle, backend="torch")
    assert encoder.encode_texts([]).shape == (0, encoder.embed_dim)
    assert encoder.encode_images([]).shape == (0, encoder.embed_dim)


def test_unknown_backend_and_missing_bundle_are_errors(tmp_path: Path, micro_bundle: Path) -> None:
    with pytest.raises(ValueError, match="not a valid Backend|'nope'"):
        load_encoder(micro_bundle, backend="nope")
    with pytest.raises(FileNotFoundError, match="model.json"):
        load_encoder(tmp_path)
    with pytest.raises(ValueError, match="int8"):
        load_encoder(micro_bundle, backend="torch", precision="int8")


def test_cli_info_prints_backend_and_model_id(micro_bundle: Path) -> None:
    result = CliRunner().invoke(app, ["info", str(micro_bundle), "--backend", "torch"])
    assert result.exit_code == 0, result.output
    assert '"backend": "torch"' in result.output
    assert load_bundle(micro_bundle)[1].model_id in result.output

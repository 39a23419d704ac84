"""Encoders loaded with the text tower only (the fleet hub): same text embeddings, no image tower anywhere.

TensorRT runs against the FAKE tensorrt and pycuda modules (tests/fakes), as in test_tensorrt_fake.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fakes.fake_pycuda import FakePycudaDriver
from fakes.fake_tensorrt import FakeTensorRT
from PIL import Image

from engine import Backend, Encoder, Precision, load_encoder
from engine.backends.onnxruntime_backend import OnnxRuntimeEncoder
from engine.backends.tensorrt_backend import load_tensorrt_encoder
from engine.backends.torch_backend import TorchEncoder
from engine.bundle_files import ENGINES_DIR, bundle_vocab
from engine.encoder import tower_set
from engine.graph_io import Tower, onnx_path
from engine.spec import ModelSpec
from engine.tensorrt.build import build_engines
from engine.tokenizer import Tokenizer

TEXTS = ["a woman in a red coat and black boots", "man, grey hoodie", "a child with a yellow umbrella"]
TEXT_ONLY = "loaded with the text tower only and cannot encode images"


@pytest.fixture
def no_image_graph(exported_bundle: Path, tmp_path: Path) -> Path:
    """A copy of the exported bundle without image.onnx: only a text-only load can open it."""
    copy = tmp_path / "bundle"
    shutil.copytree(exported_bundle, copy)
    onnx_path(copy, Tower.IMAGE).unlink()
    return copy


def _refuses_images(encoder: Encoder, person_images: list[Image.Image]) -> None:
    with pytest.raises(RuntimeError, match=TEXT_ONLY):
        encoder.encode_images(person_images)
    with pytest.raises(RuntimeError, match=TEXT_ONLY):
        encoder.encode_pixels(np.zeros((1, 3, *encoder.spec.image_size), np.float32))


def _same_text_and_model(text_only: Encoder, full: Encoder) -> None:
    np.testing.assert_allclose(text_only.encode_texts(TEXTS), full.encode_texts(TEXTS), atol=1e-6)
    assert (text_only.model_id, text_only.embed_dim) == (full.model_id, full.embed_dim)
    assert (text_only.describe()["towers"], full.describe()["towers"]) == (["text"], ["image", "text"])


def _torch(bundle: Path, towers: set[Tower] | None = None) -> TorchEncoder:
    encoder = load_encoder(bundle, "torch", device="cpu", towers=towers)
    assert isinstance(encoder, TorchEncoder)
    return encoder


def _parameters(encoder: TorchEncoder) -> int:
    return sum(p.numel() for p in encoder.model.parameters())


def test_torch_text_only_drops_the_visual_parameters(
    micro_bundle: Path, person_images: list[Image.Image]
) -> None:
    full, text_only = _torch(micro_bundle), _torch(micro_bundle, {Tower.TEXT})
    _same_text_and_model(text_only, full)
    _refuses_images(text_only, person_images)
    visual = sum(p.numel() for p in full.model.visual.parameters())
    assert visual > 0 and text_only.model.visual is None
    assert _parameters(text_only) == _parameters(full) - visual


def test_torch_image_only_refuses_text(micro_bundle: Path, person_images: list[Image.Image]) -> None:
    full, image_only = _torch(micro_bundle), _torch(micro_bundle, {Tower.IMAGE})
    np.testing.assert_allclose(image_only.encode_images(person_images), full.encode_images(person_images))
    assert _parameters(image_only) < _parameters(full) and image_only.describe()["towers"] == ["image"]
    with pytest.raises(RuntimeError, match="loaded with the image tower only and cannot encode text"):
        image_only.encode_texts(TEXTS)


def test_onnxruntime_text_only_opens_no_image_session(
    exported_bundle: Path, no_image_graph: Path, person_images: list[Image.Image]
) -> None:
    full = load_encoder(exported_bundle, "onnxruntime", device="cpu", threads=1)
    text_only = load_encoder(no_image_graph, "onnxruntime", device="cpu", threads=1, towers={Tower.TEXT})
    assert isinstance(text_only, OnnxRuntimeEncoder) and isinstance(full, OnnxRuntimeEncoder)
    assert set(text_only.sessions) == {Tower.TEXT} and set(full.sessions) == set(Tower)
    _same_text_and_model(text_only, full)
    _refuses_images(text_only, person_images)
    assert text_only.describe()["providers"] == ["CPUExecutionProvider"]
    with pytest.raises(FileNotFoundError, match="image.onnx"):
        load_encoder(no_image_graph, "onnxruntime", device="cpu", threads=1)


def test_auto_passes_the_towers_through(no_image_graph: Path) -> None:
    encoder = load_encoder(no_image_graph, device="cpu", threads=1, towers={Tower.TEXT})
    assert (encoder.backend, encoder.towers) == (Backend.ONNXRUNTIME, {Tower.TEXT})


def test_tower_names_are_checked() -> None:
    assert tower_set(None) == set(Tower) and tower_set([Tower.TEXT, Tower.TEXT]) == {Tower.TEXT}
    with pytest.raises(ValueError, match="at least one of image, text"):
        tower_set([])
    with pytest.raises(ValueError, match="'audio'"):
        tower_set(["audio"])  # type: ignore[list-item]


def test_tensorrt_text_only_deserializes_only_the_text_plan(
    exported_bundle: Path, tmp_path: Path, person_images: list[Image.Image]
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(exported_bundle, bundle)
    cuda = FakePycudaDriver(gpu_name="Fake Orin")
    trt = FakeTensorRT("10.3.0", cuda)
    meta = build_engines(bundle, Precision.FP16, 4, trt, cuda)
    (bundle / ENGINES_DIR / meta.key / "image.plan").unlink()  # a full load could not open this plan
    spec = ModelSpec.load(bundle)
    tokenizer = Tokenizer(bundle_vocab(bundle), spec.context_length)
    text_only = load_tensorrt_encoder(
        bundle, spec, tokenizer, Precision.FP16, "cuda", 4, (trt, cuda), towers={Tower.TEXT}
    )
    assert set(text_only.runners) == {Tower.TEXT}
    described = text_only.describe()
    assert (described["towers"], described["tower_precisions"]) == (["text"], {"text": "fp16"})
    reference = load_encoder(exported_bundle, "onnxruntime", device="cpu", threads=1)
    np.testing.assert_allclose(text_only.encode_texts(TEXTS), reference.encode_texts(TEXTS), atol=1e-5)
    _refuses_images(text_only, person_images)
    assert cuda.context_depth == 0
    with pytest.raises(FileNotFoundError, match="image.plan"):
        load_tensorrt_encoder(bundle, spec, tokenizer, Precision.FP16, "cuda", 4, (trt, cuda))

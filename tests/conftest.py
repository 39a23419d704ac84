"""Shared fixtures: a tiny CLIP built in memory and saved as a bundle, nothing downloaded."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.bundle import save_bundle
from engine.model import build_model, new_spec
from engine.spec import ModelSpec
from engine.tokenizer import Tokenizer
from index.fleet.lite_server import LiteServer


@pytest.fixture(scope="session")
def micro_spec() -> ModelSpec:
    """The smallest architecture we ship: 2+2 layers, width 32, 32x16 input."""
    return new_spec("PS-Micro")


@pytest.fixture(scope="session")
def eot_id() -> int:
    """The end-of-text id of the vocabulary every bundle ships (CLIP's BPE), read from the tokenizer."""
    return Tokenizer().eot_id


@pytest.fixture(scope="session")
def micro_bundle(tmp_path_factory: pytest.TempPathFactory, micro_spec: ModelSpec) -> Path:
    """A seeded random PS-Micro saved as a bundle directory."""
    torch.manual_seed(0)
    model = build_model(micro_spec)
    directory = tmp_path_factory.mktemp("bundle")
    save_bundle(model, micro_spec, directory)
    return directory


@pytest.fixture(scope="session")
def exported_bundle(tmp_path_factory: pytest.TempPathFactory, micro_bundle: Path) -> Path:
    """A copy of micro_bundle with image.onnx, text.onnx and their INT8 twins exported and checked."""
    from engine.export import export_bundle

    directory = tmp_path_factory.mktemp("exported") / "bundle"
    shutil.copytree(micro_bundle, directory)
    export_bundle(directory)
    return directory


@pytest.fixture
def person_images() -> list[Image.Image]:
    """A few deterministic coloured crops of different sizes and modes."""
    rng = np.random.default_rng(0)
    sizes = [(60, 20), (128, 48), (40, 40), (90, 30)]
    images = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in sizes]
    images.append(images[0].convert("L"))
    return images


@pytest.fixture(scope="session")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteServer]:
    """A real Milvus Lite gRPC server on a loopback port, shared by the tests of one run."""
    with LiteServer(tmp_path_factory.mktemp("milvus") / "data") as server:
        yield server

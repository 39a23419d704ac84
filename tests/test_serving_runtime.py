"""The serving runtime without torch: a bundle on ONNX Runtime, ingest and search over HTTP (real uvicorn).

`make serving-test` runs this file in a venv of docker/requirements-serve.txt, faiss-cpu and the project
installed without its dependencies, on the Jetson image's Python minor version (PS_SERVING_PYTHON), with a
bundle the main venv exported (PS_SERVING_BUNDLE). In the main venv the same tests export their own bundle.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from service_live import LiveServer, crop_bytes, live_settings

from engine import load_encoder
from engine.spec import ModelSpec

REPO = Path(__file__).resolve().parents[1]
BUNDLE_ENV, PYTHON_ENV = "PS_SERVING_BUNDLE", "PS_SERVING_PYTHON"
TEXT = "a woman in a red jacket, black cap and brown shoes"


def image_python() -> str:
    """The Jetson image's Python minor version, from its one definition in docker/Dockerfile.jetson."""
    found = re.search(
        r"^ARG PYTHON_VERSION=(\d+\.\d+)\.\d+$", (REPO / "docker/Dockerfile.jetson").read_text(), re.M
    )
    assert found, "docker/Dockerfile.jetson has no ARG PYTHON_VERSION=X.Y.Z"
    return found[1]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle make serving-test exported, or one exported here when torch is at hand."""
    if given := os.environ.get(BUNDLE_ENV):
        return Path(given)
    if importlib.util.find_spec("torch") is None:
        pytest.fail(
            f"{BUNDLE_ENV} is not set and there is no torch here to export a bundle: make serving-test"
        )
    from serving_bundle import write_bundle

    return write_bundle(tmp_path_factory.mktemp("serving") / "bundle")


@pytest.fixture(scope="module")
def client(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = live_settings(
        bundle, tmp_path_factory.mktemp("gallery"), model={"backend": "onnxruntime", "device": "cpu"}
    )
    with LiveServer(settings) as live, live.client() as http:
        yield http


def test_the_serving_venv_is_the_image_python_without_torch() -> None:
    if PYTHON_ENV not in os.environ:
        pytest.skip(f"checks the serving venv of `make serving-test` ({PYTHON_ENV} unset in this venv)")
    assert os.environ[PYTHON_ENV] == image_python(), "the Makefile and docker/Dockerfile.jetson disagree"
    assert f"{sys.version_info[0]}.{sys.version_info[1]}" == image_python(), f"this is Python {sys.version}"
    for heavy in ("torch", "torchvision", "open_clip", "peft"):
        assert importlib.util.find_spec(heavy) is None, f"{heavy} is installed in the serving venv"


def test_health_reports_onnxruntime_on_the_bundle(client: httpx.Client, bundle: Path) -> None:
    health = client.get("/health").json()
    assert health["ready"] and health["warmup_done"]
    assert (health["backend"], health["precision"], health["device"]) == ("onnxruntime", "fp32", "cpu")
    assert health["model_id"] == ModelSpec.load(bundle).model_id


def test_ingest_then_search_over_http_matches_the_encoder(client: httpx.Client, bundle: Path) -> None:
    seeds = [11, 12, 13, 14]
    files = [("files", (f"crop{s}.png", crop_bytes(s))) for s in seeds]
    added = client.post("/gallery", files=files, data={"camera": "gate"})
    assert added.status_code == 200, added.text
    assert added.json()["added"] == len(seeds)
    ids = [item["id"] for item in added.json()["items"]]

    found = client.post("/search", json={"text": TEXT, "top_k": 10, "filters": {"cameras": ["gate"]}})
    assert found.status_code == 200, found.text
    matches = found.json()["matches"]
    assert [m["rank"] for m in matches] == [1, 2, 3, 4] and {m["item"]["id"] for m in matches} == set(ids)

    encoder = load_encoder(bundle, "onnxruntime", device="cpu")
    images = [Image.open(io.BytesIO(crop_bytes(s))) for s in seeds]
    expected = encoder.encode_images(images) @ encoder.encode_texts([TEXT])[0]
    got = {m["item"]["id"]: m["score"] for m in matches}
    np.testing.assert_allclose([got[i] for i in ids], expected, atol=1e-4)

    again = client.get("/search", params={"q": TEXT, "k": 1, "camera": "gate"}).json()
    assert [m["item"]["id"] for m in again["matches"]] == [matches[0]["item"]["id"]]
    image = client.get(matches[0]["item"]["image_url"])
    assert image.status_code == 200 and image.content == crop_bytes(
        seeds[ids.index(matches[0]["item"]["id"])]
    )

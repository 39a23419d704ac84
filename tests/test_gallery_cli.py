"""`person-search ingest`, `search` and `reindex` end to end with a tiny real model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cli import app
from engine.bundle import save_bundle
from engine.model import build_model
from engine.spec import ModelSpec
from index import stored_model

runner = CliRunner()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Six crops (PNG and JPEG, one nested), a byte-identical copy, and a broken file."""
    root = tmp_path / "crops"
    (root / "cam2").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        image = Image.fromarray(rng.integers(0, 256, (64, 24, 3), dtype=np.uint8))
        target = root / ("cam2" if i == 5 else "") / f"p{i}.{'png' if i % 2 else 'jpg'}"
        image.save(target)
    shutil.copy(root / "p1.png", root / "p1-copy.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / "notes.txt").write_text("ignored: not an image suffix")
    return root


def invoke(*args: str | Path) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def test_ingest_search_reindex(
    folder: Path, tmp_path: Path, micro_bundle: Path, micro_spec: ModelSpec
) -> None:
    data = tmp_path / "gallery"
    out = invoke(
        "ingest", folder, "--model", micro_bundle, "--data", data, "--camera", "gate", "--batch-size", "3"
    )
    assert "added 6, duplicate 1, rejected 1" in out
    assert "broken.jpg: not a supported image" in out  # no JPEG signature, as an upload would be told

    again = invoke("ingest", str(folder / "*.png"), "--model", micro_bundle, "--data", data)
    assert "added 0, duplicate 3, rejected 0" in again  # resumable: stored bytes are skipped

    out = invoke("search", "a woman in a red jacket", "--model", micro_bundle, "--data", data, "-k", "4")
    ranked = [line.split() for line in out.strip().splitlines()]
    assert [r[0] for r in ranked] == ["1", "2", "3", "4"]
    scores = [float(r[1]) for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all("camera=gate" in line for line in out.splitlines())

    torch.manual_seed(1)  # a different model: new weights, new model_id
    other = tmp_path / "bundle-b"
    save_bundle(build_model(micro_spec), micro_spec, other)
    refused = runner.invoke(app, ["search", "anyone", "--model", str(other), "--data", str(data)])
    assert refused.exit_code == 2 and "person-search reindex" in refused.output

    out = invoke("reindex", "--model", other, "--data", data, "--batch-size", "4")
    assert "re-encoded 6 images" in out
    new_id, old_id = ModelSpec.load(other).model_id, ModelSpec.load(micro_bundle).model_id
    assert new_id != old_id and stored_model(data) == (new_id, micro_spec.embed_dim)
    out = invoke("search", "a man with a backpack", "--model", other, "--data", data, "-k", "2")
    assert len(out.strip().splitlines()) == 2
    assert "nothing to do" in invoke("reindex", "--model", other, "--data", data)


def test_ingest_names_a_missing_source(tmp_path: Path, micro_bundle: Path) -> None:
    result = runner.invoke(
        app,
        [
            "ingest",
            str(tmp_path / "nowhere*.jpg"),
            "--model",
            str(micro_bundle),
            "--data",
            str(tmp_path / "g"),
        ],
    )
    assert result.exit_code != 0 and "matches no files" in result.output


def test_reindex_loads_the_encoder_at_the_precision_asked(
    tmp_path: Path, micro_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import service.components
    from index import Gallery

    data = tmp_path / "gallery"
    Gallery.open(data, "an-older-model", 8, "Flat").close()
    asked: list[tuple[object, ...]] = []

    def recording_loader(*args: object, **kwargs: object) -> None:
        asked.append(args)
        raise RuntimeError("stop after recording")

    monkeypatch.setattr(service.components, "load_encoder", recording_loader)
    args = ["reindex", "--model", str(micro_bundle), "--data", str(data), "--precision", "fp16"]
    result = runner.invoke(app, [*args, "--backend", "onnxruntime"])
    assert result.exit_code == 2 and "stop after recording" in result.output
    bundle, backend, precision, _device, max_batch = asked[0]
    assert (bundle, backend, precision, max_batch) == (micro_bundle, "onnxruntime", "fp16", 32)


def test_search_by_example_image(folder: Path, tmp_path: Path, micro_bundle: Path) -> None:
    """An example crop finds itself first (cosine 1), mixed with text too; bad input is named."""
    data = tmp_path / "gallery"
    invoke("ingest", folder, "--model", micro_bundle, "--data", data)
    example = folder / "p3.png"
    out = invoke("search", "--image", example, "--model", micro_bundle, "--data", data, "-k", "3")
    first = out.strip().splitlines()[0].split()
    assert first[0] == "1" and float(first[1]) > 0.999 and first[-1].endswith(".png")
    assert Image.open(first[-1]).tobytes() == Image.open(example).tobytes()

    mixed = invoke(
        "search",
        "a man in a grey hoodie",
        "--image",
        example,
        "--text-weight",
        "0.2",
        "--model",
        micro_bundle,
        "--data",
        data,
        "-k",
        "6",
    )
    scores = [float(line.split()[1]) for line in mixed.strip().splitlines()]
    assert len(scores) == 6 and scores == sorted(scores, reverse=True) and scores[0] < 0.999

    (tmp_path / "notes.txt").write_text("not an image")
    base = ["search", "--model", str(micro_bundle), "--data", str(data)]
    refused = runner.invoke(app, [*base, "--image", str(tmp_path / "notes.txt")])
    assert refused.exit_code == 2 and "notes.txt" in refused.output and "--image" in refused.output
    nothing = runner.invoke(app, base)
    assert nothing.exit_code == 2 and "--image" in nothing.output

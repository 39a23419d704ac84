"""Every command builds the same Settings as `serve`: environment first, flags on top."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cli import app
from cli.settings_flags import settings_from_flags
from engine.encoder import Backend, Precision
from service.settings import Settings

runner = CliRunner(env={"COLUMNS": "400"})


def test_flags_override_the_environment_and_leave_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSON_SEARCH_MODEL__BACKEND", "onnxruntime")
    monkeypatch.setenv("PERSON_SEARCH_MODEL__PRECISION", "fp16")
    monkeypatch.setenv("PERSON_SEARCH_SERVER__PORT", "8000")
    monkeypatch.setenv("PERSON_SEARCH_BATCHING__TEXT__MAX_BATCH", "8")
    settings = settings_from_flags({"backend": "torch", "port": 9001, "threads": None, "text_max_batch": 4})
    assert settings.model.backend is Backend.TORCH  # flag beats environment
    assert settings.server.port == 9001
    assert settings.batching.text.max_batch == 4
    assert settings.model.precision is Precision.FP16  # environment kept where no flag was given
    assert settings.model.threads is None


def test_serve_builds_its_settings_from_environment_and_flags(
    monkeypatch: pytest.MonkeyPatch, micro_bundle: Path, tmp_path: Path
) -> None:
    import uvicorn

    import service.app

    seen: list[Settings] = []
    monkeypatch.setattr(service.app, "create_app", lambda settings: seen.append(settings) or object())
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    env = {"PERSON_SEARCH_MODEL__BACKEND": "onnxruntime", "PERSON_SEARCH_INDEX__DATA_DIR": str(tmp_path)}
    result = runner.invoke(app, ["serve", "--bundle", str(micro_bundle), "--backend", "torch"], env=env)
    assert result.exit_code == 0, result.output
    assert seen[0].model.backend is Backend.TORCH
    assert seen[0].index.data_dir == tmp_path  # from the environment


def test_serve_refuses_to_invent_a_gallery_directory(micro_bundle: Path) -> None:
    result = runner.invoke(app, ["serve", "--bundle", str(micro_bundle)])
    assert result.exit_code == 2
    assert "--data-dir or PERSON_SEARCH_INDEX__DATA_DIR" in result.output


def _crops(root: Path, count: int = 3) -> Path:
    root.mkdir()
    rng = np.random.default_rng(1)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (64, 24, 3), dtype=np.uint8)).save(root / f"c{i}.png")
    return root


def test_ingest_loads_the_backend_the_environment_names(
    exported_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crops, data = _crops(tmp_path / "crops"), tmp_path / "gallery"
    env: dict[str, Any] = {
        "PERSON_SEARCH_MODEL__BACKEND": "onnxruntime",
        "PERSON_SEARCH_MODEL__BUNDLE": str(exported_bundle),
        "PERSON_SEARCH_INDEX__DATA_DIR": str(data),
    }
    result = runner.invoke(app, ["ingest", str(crops)], env=env)
    assert result.exit_code == 0, result.output
    assert "3 items" in result.output and "(onnxruntime fp32 on cpu)" in result.output
    result = runner.invoke(app, ["ingest", str(crops), "--backend", "torch"], env=env)
    assert result.exit_code == 0, result.output
    assert "(torch fp32 on cpu)" in result.output and "duplicate 3" in result.output


def test_gallery_commands_need_a_named_data_directory(micro_bundle: Path, tmp_path: Path) -> None:
    for args in (["ingest", str(tmp_path)], ["search", "a red coat"], ["reindex"]):
        result = runner.invoke(app, [*args, "--model", str(micro_bundle)])
        assert result.exit_code == 2, args
        assert "--data-dir or PERSON_SEARCH_INDEX__DATA_DIR" in result.output


def test_demo_stops_at_once_when_its_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = runner.invoke(app, ["demo", "--workdir", str(tmp_path / "demo"), "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot serve on 127.0.0.1:{port}" in result.output
    assert "--port" in result.output and "make demo PORT=" in result.output
    assert "[1/6]" not in result.output  # refused before any training
    assert not (tmp_path / "demo").exists()

"""Settings: environment with PERSON_SEARCH_ and __ nesting, lists, and flags that override env."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from engine.encoder import Backend
from service.settings import Settings


def test_environment_fills_nested_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSON_SEARCH_MODEL__BACKEND", "torch")
    monkeypatch.setenv("PERSON_SEARCH_BATCHING__TEXT__MAX_WAIT_MS", "7.5")
    monkeypatch.setenv("PERSON_SEARCH_AUTH__READ_KEYS", "r1, r2")
    monkeypatch.setenv("PERSON_SEARCH_SERVER__CORS_ORIGINS", '["http://a.example"]')
    monkeypatch.setenv("PERSON_SEARCH_INDEX__SOMETHING_LATER", "ignored")
    settings = Settings(model={"bundle": Path("b")}, batching={"text": {"max_batch": 4}})
    assert settings.model.backend is Backend.TORCH and settings.model.bundle == Path("b")
    assert settings.batching.text.max_wait_ms == 7.5 and settings.batching.text.max_batch == 4
    assert [k.get_secret_value() for k in settings.auth.read_keys] == ["r1", "r2"]
    assert "r1" not in repr(settings)  # keys never show in logs
    assert settings.server.cors_origins == ["http://a.example"]


def test_invalid_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSON_SEARCH_MODEL__BACKEND", "warp-drive")
    with pytest.raises(ValueError, match="backend"):
        Settings()


def test_serve_refuses_a_directory_that_is_not_a_bundle(tmp_path: Path) -> None:
    from cli import app

    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["serve", "--bundle", str(tmp_path), "--port", "0"]
    )
    assert result.exit_code != 0
    assert "not a model bundle" in result.output

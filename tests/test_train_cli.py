"""`person-search train` and `person-search probe` end to end on a tiny CUHK-PEDES-format set."""

from __future__ import annotations

import json
from pathlib import Path

from train_helpers import tiny_dataset, write_reid_raw
from typer.testing import CliRunner

from cli.app import app
from engine.spec import ModelSpec


def test_train_from_scratch_then_probe(tmp_path: Path) -> None:
    annotations = write_reid_raw(tiny_dataset(tmp_path / "data"))
    runner = CliRunner()
    args = [
        "train",
        str(annotations),
        "--out",
        str(tmp_path / "run"),
        "--from-scratch",
        "--arch",
        "PS-Micro",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--no-progress",
        "--threads",
        "1",
        "--lora-rank",
        "2",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "trainable params" in result.output and "tuned" in result.output
    spec = ModelSpec.load(tmp_path / "run" / "bundle")
    assert spec.arch == "PS-Micro" and spec.provenance["mode"] == "scratch"
    assert spec.provenance["config"]["batch_size"] == 8

    probe = [
        "probe",
        "--model",
        str(tmp_path / "run" / "bundle"),
        "--data",
        str(annotations),
        "--out",
        str(tmp_path / "probe"),
        "--epochs",
        "5",
    ]
    result = runner.invoke(app, probe)
    assert result.exit_code == 0, result.output
    assert "upper_colour: accuracy" in result.output
    assert json.loads((tmp_path / "probe" / "probe.json").read_text())["eval_images"] == 12


def test_lora_without_a_base_is_refused(tmp_path: Path) -> None:
    annotations = write_reid_raw(tiny_dataset(tmp_path / "data", {"train": 2}, images_per_id=2))
    result = CliRunner().invoke(app, ["train", str(annotations), "--out", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "--base" in result.output

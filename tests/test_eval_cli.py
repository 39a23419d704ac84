"""`person-search eval` end to end: a tiny synthetic set, the micro bundle, a table and a JSON file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from training.synth import generate


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(
        tmp_path_factory.mktemp("synth"), identities=20, images_per_id=2, domain="source", seed=1
    ).parent


def test_eval_prints_a_table_and_writes_json(tiny_set: Path, micro_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "metrics.json"
    args = [
        "eval",
        "--model",
        str(micro_bundle),
        "--data",
        str(tiny_set),
        "--backend",
        "torch",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, [*args, "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "R1" in result.output and "mINP" in result.output
    report = json.loads(out.read_text())
    assert report["split"] == "test" and report["dataset"].endswith(":test")
    assert (report["gallery"], report["queries"], report["identities"]) == (
        4,
        8,
        2,
    )  # 2 test persons x 2 images
    for key in ("R1", "R5", "R10", "mAP", "mINP"):
        assert 0.0 <= report[key] <= 100.0
    assert report["R5"] == 100.0  # a gallery of 4 always holds a relevant image in the top 5
    assert report["mINP"] >= 50.0  # 2 relevant of 4: the last one is at rank 4 at worst
    assert report["backend"] == "torch" and report["model_id"]


def test_eval_all_splits(tiny_set: Path, micro_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    args = ["eval", "--model", str(micro_bundle), "--data", str(tiny_set / "reid_raw.json"), "--split", "all"]
    result = CliRunner().invoke(app, [*args, "--backend", "torch", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["gallery"] == 40


def test_eval_without_out_writes_nothing(
    tiny_set: Path, micro_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table is printed; no metrics file appears in the working directory unasked."""
    monkeypatch.chdir(tmp_path)
    args = ["eval", "--model", str(micro_bundle), "--data", str(tiny_set), "--backend", "torch"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "mINP" in result.output and "wrote" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_eval_reports_bad_data_without_a_traceback(micro_bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "reid_raw.json").write_text('[{"id": 1}]')
    result = CliRunner().invoke(app, ["eval", "--model", str(micro_bundle), "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "record 0" in result.output and "field" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_eval_names_the_missing_split(tiny_set: Path, micro_bundle: Path, tmp_path: Path) -> None:
    records = json.loads((tiny_set / "reid_raw.json").read_text())
    only_train = tmp_path / "train_only"
    only_train.mkdir()
    (only_train / "imgs").symlink_to(tiny_set / "imgs")
    (only_train / "reid_raw.json").write_text(json.dumps([r for r in records if r["split"] == "train"]))
    result = CliRunner().invoke(app, ["eval", "--model", str(micro_bundle), "--data", str(only_train)])
    assert result.exit_code == 2
    assert "no 'test' items" in result.output and "train" in result.output

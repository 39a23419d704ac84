"""The attribute probe on frozen image embeddings: metrics, the confusion-matrix PNG, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_helpers import tiny_dataset

from training.probe import CONFUSION_FILE, PROBE_FILE, run_probe


def test_probe_reports_metrics_and_writes_its_png(micro_bundle: Path, tmp_path: Path) -> None:
    dataset = tiny_dataset(tmp_path / "data")
    result = run_probe(micro_bundle, dataset, "upper_colour", tmp_path / "probe", epochs=40)
    test_items = dataset.split("test").items
    assert result.classes == sorted({i.attributes["upper_colour"] for i in dataset.items})
    assert result.eval_images == len(test_items) and result.train_images == len(dataset.split("train"))
    assert sum(map(sum, result.confusion)) == len(test_items)
    diagonal = sum(result.confusion[k][k] for k in range(len(result.classes)))
    assert result.accuracy == pytest.approx(100 * diagonal / len(test_items), abs=0.01)
    for name, row in result.per_class.items():
        assert 0 <= row["precision"] <= 100 and 0 <= row["recall"] <= 100, name
    assert (tmp_path / "probe" / CONFUSION_FILE).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "probe" / PROBE_FILE).read_text())["accuracy"] == result.accuracy


def test_probe_head_learns_what_the_embedding_separates(micro_bundle: Path, tmp_path: Path) -> None:
    """Flat colour blocks: even a random tower's embedding tells the six colours of its training set apart.

    (The fixture's test identities pair colours differently, so generalising needs a trained model.)
    """
    dataset = tiny_dataset(tmp_path / "data")
    result = run_probe(
        micro_bundle, dataset, "upper_colour", tmp_path / "probe", eval_split="train", epochs=40
    )
    assert result.majority_baseline == pytest.approx(100 / 6, abs=0.01)
    assert result.accuracy > 90


def test_probe_names_a_missing_attribute(micro_bundle: Path, tmp_path: Path) -> None:
    dataset = tiny_dataset(tmp_path / "data", {"train": 2, "test": 1}, images_per_id=2)
    with pytest.raises(KeyError, match="no attribute 'hat'.*upper_colour"):
        run_probe(micro_bundle, dataset, "hat", tmp_path / "probe")

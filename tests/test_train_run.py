"""Short real training runs on a tiny dataset: outputs, provenance, resume, reproducibility, stopping."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from train_helpers import tiny_dataset

from engine import load_encoder
from engine.bundle import load_bundle
from engine.spec import ModelSpec
from training import checkpoint
from training.config import LoraSettings, TrainConfig, TrainMode
from training.data.types import PersonDataset
from training.loop import LOG_FILE
from training.pipeline import REPORT_FILE, finetune, train
from training.report import CURVES_FILE, PROJECTION_FILE

PNG_MAGIC = b"\x89PNG"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> PersonDataset:
    return tiny_dataset(tmp_path_factory.mktemp("tiny"))


def _scratch(**changes: object) -> TrainConfig:
    base = {
        "mode": TrainMode.SCRATCH,
        "arch": "PS-Micro",
        "epochs": 3,
        "batch_size": 8,
        "lr": 3e-3,
        "warmup_epochs": 0.5,
        "progress": False,
        "threads": 1,
    }
    return TrainConfig.model_validate({**base, **changes})


def _quiet(_: str) -> None:
    """Swallow progress lines."""


def _epochs(run_dir: Path) -> list[dict[str, object]]:
    lines = (run_dir / LOG_FILE).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == "epoch"]


def test_scratch_run_reduces_the_loss_and_writes_everything(tiny: PersonDataset, tmp_path: Path) -> None:
    result = train(tiny, tmp_path, _scratch(), echo=_quiet)
    epochs = _epochs(tmp_path)
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert epochs[-1]["loss"] < epochs[0]["loss"]
    assert all(r["val"] and set(r["val"]) == {"R1", "R5", "R10", "mAP", "mINP"} for r in epochs)
    assert checkpoint.latest(tmp_path) == tmp_path / "checkpoints" / "epoch_003.pt"
    for name in (CURVES_FILE, PROJECTION_FILE):
        assert (tmp_path / name).read_bytes()[:4] == PNG_MAGIC
    assert json.loads((tmp_path / REPORT_FILE).read_text())["model_id"] == result.spec.model_id

    _, spec = load_bundle(result.bundle, verify=True)
    provenance = spec.provenance
    assert provenance["mode"] == "scratch" and provenance["epochs"]["run"] == 3
    assert provenance["data"]["splits"]["train"] == {"images": 24, "identities": 6}
    for who in ("base", "tuned"):
        for split in ("val", "test"):
            assert 0 <= provenance["metrics"][who][split]["R1"] <= 100
    encoder = load_encoder(result.bundle, backend="torch")
    assert encoder.encode_texts(["a person in a red shirt"]).shape == (1, spec.embed_dim)


def test_lora_run_merges_into_a_plain_bundle(tiny: PersonDataset, micro_bundle: Path, tmp_path: Path) -> None:
    config = _scratch(mode=TrainMode.LORA, epochs=2, lora=LoraSettings(rank=4))
    bundle = finetune(micro_bundle, tiny, tmp_path, config, echo=_quiet)
    base_model, base_spec = load_bundle(micro_bundle)
    model, spec = load_bundle(bundle, verify=True)
    assert set(model.state_dict()) == set(base_model.state_dict())
    assert spec.model_id != base_spec.model_id
    assert spec.provenance["base"]["model_id"] == base_spec.model_id
    assert (
        spec.provenance["lora"]["rank"] == 4
        and "token_embedding" in spec.provenance["lora"]["target_modules"]
    )
    assert 0 < spec.provenance["trainable_params"] < spec.provenance["total_params"]
    # a finished run is reused, not trained again
    assert finetune(micro_bundle, tiny, tmp_path, config, echo=_quiet) == bundle
    assert len(_epochs(tmp_path)) == 2


def test_seeded_runs_are_reproducible_and_resume_continues(tiny: PersonDataset, tmp_path: Path) -> None:
    config = _scratch(epochs=2)
    first = train(tiny, tmp_path / "a", config, echo=_quiet)
    again = train(tiny, tmp_path / "b", config, echo=_quiet)
    assert again.spec.model_id == first.spec.model_id

    resumed = tmp_path / "c"
    (resumed / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "a" / "checkpoints" / "epoch_001.pt", resumed / "checkpoints")
    train(tiny, resumed, config, resume=True, echo=_quiet)
    assert [r["epoch"] for r in _epochs(resumed)] == [2]  # only the missing epoch ran
    done = checkpoint.load(resumed / "checkpoints" / "epoch_002.pt")
    reference = checkpoint.load(tmp_path / "a" / "checkpoints" / "epoch_002.pt")
    assert [r["loss"] for r in done["history"]] == [r["loss"] for r in reference["history"]]
    for name, tensor in reference["trainable"].items():
        torch.testing.assert_close(done["trainable"][name], tensor, atol=0, rtol=0)
    with pytest.raises(ValueError, match=r"other settings \(lr\)"):
        train(tiny, resumed, _scratch(epochs=3, lr=1e-2), resume=True, echo=_quiet)


def test_early_stopping_on_validation_r1(tiny: PersonDataset, tmp_path: Path) -> None:
    """A learning rate too small to change anything: R@1 never improves, patience 1 stops after epoch 2."""
    result = train(tiny, tmp_path, _scratch(epochs=5, lr=1e-12, patience=1), echo=_quiet)
    spec = ModelSpec.load(result.bundle)
    assert spec.provenance["epochs"] == {"planned": 5, "run": 2, "best": 1, "stopped_early": True}

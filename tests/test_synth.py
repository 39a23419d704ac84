"""The synthetic person generator: determinism, splits, captions that name what was drawn, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cli.app import app
from engine.tokenizer import Tokenizer
from training.synth import generate
from training.synth.attributes import sample_person
from training.synth.generate import assign_splits
from training.synth.vocab import COLOURS, WORDS, Domain, combinations


def _records(path: Path) -> list[dict]:
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def source_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("src"), identities=30, images_per_id=3, domain="source", seed=7)


@pytest.fixture(scope="module")
def target_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("tgt"), identities=30, images_per_id=3, domain="target", seed=7)


def test_same_seed_same_bytes(tmp_path: Path, source_set: Path) -> None:
    again = generate(tmp_path / "again", identities=30, images_per_id=3, domain="source", seed=7)
    assert again.read_bytes() == source_set.read_bytes()
    for record in _records(again)[:12]:
        a = (again.parent / "imgs" / record["file_path"]).read_bytes()
        b = (source_set.parent / "imgs" / record["file_path"]).read_bytes()
        assert a == b, record["file_path"]


def test_other_seed_or_domain_differs(tmp_path: Path, source_set: Path, target_set: Path) -> None:
    other = generate(tmp_path / "other", identities=30, images_per_id=3, domain="source", seed=8)
    assert [r["attributes"] for r in _records(other)] != [r["attributes"] for r in _records(source_set)]
    src, tgt = _records(source_set), _records(target_set)
    assert [r["attributes"]["upper_colour"] for r in src] != [r["attributes"]["upper_colour"] for r in tgt]


def test_layout_ids_and_image_size(source_set: Path) -> None:
    records = _records(source_set)
    assert len(records) == 90
    assert sorted({r["id"] for r in records}) == list(range(1, 31))
    for r in records:
        assert set(r) >= {"split", "captions", "file_path", "id", "attributes"}
        assert len(r["captions"]) == 2 and all(c.endswith(".") for c in r["captions"])
    with Image.open(source_set.parent / "imgs" / records[0]["file_path"]) as image:
        assert image.size == (32, 96) and image.mode == "RGB"


def test_custom_size(tmp_path: Path) -> None:
    path = generate(tmp_path, identities=2, images_per_id=1, domain="target", seed=0, size=(192, 64))
    with Image.open(path.parent / "imgs" / _records(path)[0]["file_path"]) as image:
        assert image.size == (64, 192)
    with pytest.raises(ValueError, match="too small"):
        generate(tmp_path / "tiny", identities=2, images_per_id=1, domain="source", seed=0, size=(12, 4))


@pytest.mark.parametrize("n", [1, 3, 10, 57, 500])
def test_splits_are_disjoint_and_80_10_10(n: int) -> None:
    splits = assign_splits(n, seed=1, domain=Domain.SOURCE)
    assert sorted(splits) == list(range(1, n + 1))  # every id in exactly one split
    counts = {s: sum(1 for v in splits.values() if v == s) for s in ("train", "val", "test")}
    if n >= 3:
        assert counts["val"] >= 1 and counts["test"] >= 1
        assert counts["val"] == max(1, round(n * 0.1)) and counts["test"] == counts["val"]
    else:
        assert counts["train"] == n


def test_identities_never_cross_splits(source_set: Path) -> None:
    by_id: dict[int, set[str]] = {}
    for r in _records(source_set):
        by_id.setdefault(r["id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_id.values())
    assert {s for v in by_id.values() for s in v} == {"train", "val", "test"}


def test_source_captions_name_the_upper_garment_and_colour(source_set: Path) -> None:
    for r in _records(source_set):
        a = r["attributes"]
        for text in r["captions"]:
            assert f"{a['upper_colour']} " in text.lower(), text
            assert a["upper_type"] in text.lower(), text
            if a["lower_type"] != "none":
                assert a["lower_type"] in text.lower(), text


def test_target_captions_use_synonyms_and_shared_words(target_set: Path) -> None:
    records = _records(target_set)
    texts = " ".join(c.lower() for r in records for c in r["captions"])
    for r in records:
        a = r["attributes"]
        names = WORDS[a["upper_type"]] + WORDS[a["upper_colour"]]
        assert all(any(n in c.lower() for n in names) for c in r["captions"]), r["captions"]
    assert "crimson" in texts or "scarlet" in texts or "navy" in texts  # synonyms appear
    assert " red " in texts and " blue " in texts  # and the shared words stay


def test_captions_fit_the_demo_context(source_set: Path, target_set: Path) -> None:
    texts = [c for p in (source_set, target_set) for r in _records(p) for c in r["captions"]]
    _, lengths = Tokenizer(context_length=1000)(texts)
    assert lengths.max() <= 40  # start and end tokens included: PS-Tiny's 40-token context


def test_drawn_upper_colour_is_in_the_image(source_set: Path) -> None:
    """The garment colour a caption names is really painted: many pixels near its RGB in most images."""
    root, hits, records = source_set.parent / "imgs", 0, _records(source_set)
    for r in records:
        rgb = np.asarray(COLOURS[r["attributes"]["upper_colour"]], np.float32)
        pixels = np.asarray(Image.open(root / r["file_path"]), np.float32)
        hits += int((np.linalg.norm(pixels - rgb, axis=2) < 60).sum() >= 25)
    assert hits >= 0.8 * len(records)


def test_attribute_space_is_large() -> None:
    assert combinations() > 10**9
    rng = np.random.default_rng(0)
    people = {tuple(sorted(sample_person(rng).attributes.items())) for _ in range(2000)}
    assert len(people) == 2000  # no two of 2,000 sampled persons share every attribute


def test_cli_synth(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["synth", "--out", str(out), "--identities", "4", "--images-per-id", "2", "--domain", "target"]
    result = CliRunner().invoke(app, [*args, "--seed", "5"])
    assert result.exit_code == 0, result.output
    records = _records(out / "reid_raw.json")
    assert len(records) == 8 and all((out / "imgs" / r["file_path"]).is_file() for r in records)
    info = json.loads((out / "synth_info.json").read_text())
    assert info["domain"] == "target" and info["seed"] == 5
    bad = CliRunner().invoke(app, ["synth", "--out", str(out), "--domain", "moon"])
    assert bad.exit_code != 0

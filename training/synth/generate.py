"""Write a synthetic person set in CUHK-PEDES layout: `reid_raw.json` plus images under `imgs/`.

Every identity and every image has its own generator seeded from (seed, domain, id, image), so a set is
byte-identical for a seed whatever order it is written in. Identities are split 80/10/10 into
train/val/test at random (val and test get at least one identity each once there are 3 or more).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from training.synth import vocab
from training.synth.attributes import sample_person
from training.synth.cameras import CAMERAS
from training.synth.captions import caption
from training.synth.render import render
from training.synth.vocab import Domain, domain_code

DEFAULT_SIZE = (96, 32)  # (H, W): the demo model's input, the 3:1 aspect of 384x128 person crops
CAPTIONS_PER_IMAGE = 2
SPLIT_FRACTIONS = {"val": 0.1, "test": 0.1}  # the rest is train


def assign_splits(identities: int, seed: int, domain: Domain) -> dict[int, str]:
    """1-based id -> split; disjoint identities, 80/10/10, at least one val and test id from 3 ids on."""
    order = np.random.default_rng([seed, domain_code(domain), 0]).permutation(identities) + 1
    counts = {s: max(1, round(f * identities)) if identities >= 3 else 0 for s, f in SPLIT_FRACTIONS.items()}
    splits = {int(pid): "train" for pid in order}
    start = 0
    for name, count in counts.items():
        for pid in order[start : start + count]:
            splits[int(pid)] = name
        start += count
    return splits


def generate(
    out: Path,
    identities: int,
    images_per_id: int,
    domain: Domain | str,
    seed: int,
    size: tuple[int, int] = DEFAULT_SIZE,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Draw `identities` persons x `images_per_id` images into `out`; returns the reid_raw.json path."""
    domain = Domain(domain)
    if identities < 1 or images_per_id < 1:
        raise ValueError(f"need at least one identity and one image each, got {identities} x {images_per_id}")
    height, width = size
    if height < 24 or width < 8:
        raise ValueError(f"image size {height}x{width} is too small to draw a person; use at least 24x8")
    out = Path(out)
    folder = out / "imgs" / f"synth_{domain}"
    folder.mkdir(parents=True, exist_ok=True)
    splits = assign_splits(identities, seed, domain)
    cameras = CAMERAS[domain]
    records: list[dict[str, Any]] = []
    for pid in range(1, identities + 1):
        person = sample_person(np.random.default_rng([seed, domain_code(domain), pid]))
        for k in range(images_per_id):
            rng = np.random.default_rng([seed, domain_code(domain), pid, k + 1])
            camera = cameras[int(rng.integers(len(cameras)))]
            image, view = render(person, camera, (height, width), rng)
            name = f"{pid:05d}_{k:02d}.png"
            image.save(folder / name, format="PNG")
            records.append(
                {
                    "split": splits[pid],
                    "captions": [
                        caption(person.attributes, view, domain, rng) for _ in range(CAPTIONS_PER_IMAGE)
                    ],
                    "file_path": f"synth_{domain}/{name}",
                    "id": pid,
                    "attributes": {**person.attributes, "view": view, "camera": camera.name},
                }
            )
            if progress is not None:
                progress(1)
    annotations = out / "reid_raw.json"
    annotations.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
    _write_info(out, domain, seed, size, identities, images_per_id, splits)
    return annotations


def _write_info(
    out: Path,
    domain: Domain,
    seed: int,
    size: tuple[int, int],
    identities: int,
    per_id: int,
    splits: dict[int, str],
) -> None:
    """synth_info.json: how the set was made, for provenance in model bundles."""
    counts = {name: sum(1 for s in splits.values() if s == name) for name in ("train", "val", "test")}
    info = {
        "generator": "person-search synth",
        "domain": str(domain),
        "seed": seed,
        "image_size": list(size),
        "identities": identities,
        "images_per_id": per_id,
        "identities_per_split": counts,
        "cameras": [c.name for c in CAMERAS[domain]],
        "attribute_combinations": vocab.combinations(),
    }
    (out / "synth_info.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

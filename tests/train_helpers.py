"""A tiny person dataset for the training tests: one flat colour pair per identity, captions naming them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from training.data.types import PersonDataset, PersonImage

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 180, 60),
    "blue": (30, 60, 220),
    "yellow": (230, 220, 40),
    "black": (20, 20, 20),
    "white": (240, 240, 240),
}
LOWER = ("black", "white", "blue")


def tiny_dataset(
    root: Path, ids_per_split: dict[str, int] | None = None, images_per_id: int = 4
) -> PersonDataset:
    """Identities drawn as an upper and a lower colour block with noise; two captions each."""
    ids_per_split = ids_per_split or {"train": 6, "val": 3, "test": 3}
    rng = np.random.default_rng(0)
    names = list(COLOURS)
    items, pid = [], 0
    root.mkdir(parents=True, exist_ok=True)
    for split, count in ids_per_split.items():
        for _ in range(count):
            pid += 1
            upper, lower = names[pid % len(names)], LOWER[(pid // len(names)) % len(LOWER)]
            captions = (f"a person in a {upper} shirt and {lower} trousers", f"{upper} top, {lower} pants")
            for k in range(images_per_id):
                pixels = np.zeros((32, 16, 3), np.float32)
                pixels[:16] = COLOURS[upper]
                pixels[16:] = COLOURS[lower]
                pixels += rng.normal(0, 12, pixels.shape)
                path = root / f"{pid:03d}_{k}.png"
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
                attrs = {"upper_colour": upper, "lower_colour": lower}
                items.append(PersonImage(path, pid, split, captions, attrs))
    return PersonDataset("tiny", root, items)


def write_reid_raw(dataset: PersonDataset) -> Path:
    """Save a dataset's annotations as CUHK-PEDES reid_raw.json beside its images (for the CLI)."""
    records = [
        {
            "split": i.split,
            "captions": list(i.captions),
            "file_path": Path(i.path).name,
            "id": i.person_id,
            "attributes": i.attributes,
        }
        for i in dataset.items
    ]
    path = dataset.root / "reid_raw.json"
    path.write_text(json.dumps(records))
    return path

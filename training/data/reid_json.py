"""CUHK-PEDES (`reid_raw.json`), ICFG-PEDES (`ICFG-PEDES.json`) and RSTPReid (`data_captions.json`).

All three are a JSON list of records with `id`, `split`, `captions` and an image path relative to the
`imgs/` folder beside the file: `file_path` in CUHK-PEDES and ICFG-PEDES (train/test only there),
`img_path` in RSTPReid. An extra `attributes` object (the synthetic set writes one) is kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training.data.fields import Where, check_images, get_captions, get_id, get_split, get_str
from training.data.types import SPLITS, PersonDataset, PersonImage


def read_json_list(file: Path) -> list[Any]:
    """The top-level list of a JSON annotation file, with errors that name the file."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Where(file).error(None, "file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Where(file).error(None, f"not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise Where(file).error(None, f"expected a JSON list of records, got {type(data).__name__}")
    return data


def image_root(file: Path) -> Path:
    """Where relative image paths start: `imgs/` beside the annotation file, else the file's folder."""
    imgs = file.parent / "imgs"
    return imgs if imgs.is_dir() else file.parent


def _attributes(at: Where, record: dict[str, Any]) -> dict[str, str]:
    value = record.get("attributes", {})
    if not isinstance(value, dict):
        raise at.error("attributes", f"expected an object, got {type(value).__name__}")
    return {str(k): str(v) for k, v in value.items()}


def load_reid_json(
    file: Path, name: str, path_field: str = "file_path", splits: tuple[str, ...] = SPLITS
) -> PersonDataset:
    """Read one of the reid-style JSON lists into a PersonDataset with absolute image paths."""
    file = file.resolve()
    root = image_root(file)
    records = read_json_list(file)
    places = [Where(file, index) for index in range(len(records))]
    items: list[PersonImage] = []
    for at, record in zip(places, records, strict=True):
        items.append(
            PersonImage(
                path=(root / get_str(at, record, path_field)).resolve(),
                person_id=get_id(at, record, "id"),
                split=get_split(at, record, "split", splits),
                captions=get_captions(at, record),
                attributes=_attributes(at, record),
            )
        )
    check_images(items, places, path_field)
    return PersonDataset(name, file.parent, items)


def load_cuhk_pedes(file: Path) -> PersonDataset:
    """CUHK-PEDES `reid_raw.json` (also what `person-search synth` writes)."""
    return load_reid_json(file, f"cuhk-pedes:{file.resolve().parent.name}")


def load_icfg_pedes(file: Path) -> PersonDataset:
    """ICFG-PEDES: the CUHK-PEDES schema with train and test splits only."""
    return load_reid_json(file, f"icfg-pedes:{file.resolve().parent.name}", splits=("train", "test"))


def load_rstpreid(file: Path) -> PersonDataset:
    """RSTPReid `data_captions.json`: `img_path` instead of `file_path`."""
    return load_reid_json(file, f"rstpreid:{file.resolve().parent.name}", path_field="img_path")

"""A plain folder of crops with `captions.csv` or `captions.jsonl` beside them.

CSV: a header with `image`, `caption`, `person_id` and optionally `split`; one row per caption, rows of
the same image are gathered. JSONL: one object per line with `image`, `person_id`, `caption` (a string)
or `captions` (a list), and optionally `split`. Image paths are relative to the folder. Without a split,
identities are split 80/10/10 by a stable hash of the person id.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from training.data.fields import (
    Where,
    check_images,
    get_captions,
    get_id,
    get_split,
    get_str,
    split_by_identity,
)
from training.data.types import PersonDataset, PersonImage

CSV_NAME, JSONL_NAME = "captions.csv", "captions.jsonl"


def _csv_rows(file: Path) -> list[tuple[Where, dict[str, Any]]]:
    """Rows as (where, record) with captions as a one-item list; the header is checked first."""
    with file.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"image", "caption", "person_id"} - set(reader.fieldnames or ())
        if missing:
            raise Where(file, 1, "line").error(None, f"header lacks column(s) {', '.join(sorted(missing))}")
        rows = []
        for row in reader:
            record: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
            if "caption" in record:
                record["captions"] = [record.pop("caption")]
            rows.append((Where(file, reader.line_num, "line"), record))
    return rows


def _jsonl_rows(file: Path) -> list[tuple[Where, dict[str, Any]]]:
    """Non-blank lines parsed as JSON objects; `caption` becomes a one-item `captions`."""
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        at = Where(file, number, "line")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise at.error(None, f"not valid JSON ({exc.msg})") from None
        if isinstance(record, dict) and "caption" in record and "captions" not in record:
            record["captions"] = [record.pop("caption")]
        rows.append((at, record))
    return rows


def load_folder(folder: Path) -> PersonDataset:
    """Read a folder with captions.csv or captions.jsonl into a PersonDataset."""
    folder = folder.resolve()
    csv_file, jsonl_file = folder / CSV_NAME, folder / JSONL_NAME
    if not csv_file.is_file() and not jsonl_file.is_file():
        raise Where(folder).error(None, f"no {CSV_NAME} or {JSONL_NAME} in this folder")
    file = csv_file if csv_file.is_file() else jsonl_file
    rows = _csv_rows(file) if file is csv_file else _jsonl_rows(file)
    gathered: dict[Path, PersonImage] = {}
    places: dict[Path, Where] = {}
    for at, record in rows:
        path = (folder / get_str(at, record, "image")).resolve()
        person_id = get_id(at, record, "person_id")
        split = get_split(at, record, "split") if "split" in record else split_by_identity(person_id)
        captions = get_captions(at, record)
        seen = gathered.get(path)
        if seen is not None and seen.person_id != person_id:
            first = places[path]
            raise at.error(
                "person_id", f"{path.name} is person {seen.person_id} on {first.unit} {first.index}"
            )
        if seen is not None:
            captions = seen.captions + captions
            split = seen.split
        gathered[path] = PersonImage(path=path, person_id=person_id, split=split, captions=captions)
        places.setdefault(path, at)
    items = list(gathered.values())
    check_images(items, [places[i.path] for i in items], "image")
    return PersonDataset(f"folder:{folder.name}", folder, items)

"""A Label Studio JSON export of an image-captioning project (a list of tasks with annotations).

Captions are the `textarea` results of each task's non-cancelled annotations. The person id is
`data.person_id` or a result named `person_id` (number, text or choice); without one, each task is its own
person (instance retrieval). `data.split` is optional (else a stable 80/10/10 split by person id). The
image `data.image` may be a path, `/data/local-files/?d=REL` or `/data/upload/N/FILE`; it is looked for
beside the export file. Tasks with no caption yet are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from training.data.fields import Where, check_images, get_id, get_split, get_str, split_by_identity
from training.data.reid_json import read_json_list
from training.data.types import PersonDataset, PersonImage

META_NAMES = ("person_id", "split")  # result names that are not captions


def is_label_studio(records: list[Any]) -> bool:
    """Whether a JSON list looks like Label Studio tasks: objects with `data` and `annotations`."""
    first = records[0] if records else None
    return isinstance(first, dict) and isinstance(first.get("data"), dict) and "annotations" in first


def _results(at: Where, task: dict[str, Any]) -> list[dict[str, Any]]:
    """All result regions of the task's annotations that were not cancelled."""
    annotations = task.get("annotations", [])
    if not isinstance(annotations, list):
        raise at.error("annotations", f"expected a list, got {type(annotations).__name__}")
    out: list[dict[str, Any]] = []
    for k, annotation in enumerate(annotations):
        if not isinstance(annotation, dict) or not isinstance(annotation.get("result", []), list):
            raise at.error(f"annotations[{k}].result", "expected an object with a list of results")
        if not annotation.get("was_cancelled", False):
            out.extend(r for r in annotation.get("result", []) if isinstance(r, dict))
    return out


def _captions(at: Where, results: list[dict[str, Any]]) -> tuple[str, ...]:
    texts: list[str] = []
    for result in results:
        if result.get("type") != "textarea" or result.get("from_name") in META_NAMES:
            continue
        value = result.get("value", {}).get("text") if isinstance(result.get("value"), dict) else None
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise at.error(
                f"{result.get('from_name', 'textarea')}.value.text",
                f"expected a list of strings, got {value!r}",
            )
        texts.extend(" ".join(t.split()) for t in value if t.strip())
    return tuple(texts)


def _meta(results: list[dict[str, Any]], name: str) -> Any:
    """The value of a result named `name` (number, single text or single choice), or None."""
    for result in results:
        value = result.get("value")
        if result.get("from_name") != name or not isinstance(value, dict):
            continue
        for key in ("number", "text", "choices"):
            found = value.get(key)
            if found is not None:
                return found[0] if isinstance(found, list) and found else found
    return None


def _image_path(at: Where, reference: str, base: Path) -> Path:
    """Map a task's image reference to a file beside the export (the first candidate that exists)."""
    parsed = urlparse(reference)
    if parsed.scheme in ("http", "https", "s3", "gs", "azure-blob"):
        raise at.error("data.image", f"{reference} is remote; download the images and point to local files")
    if parsed.path.startswith("/data/local-files/"):
        relative = parse_qs(parsed.query).get("d", [""])[0]
        candidates = [base / relative, base / Path(relative).name]
    elif parsed.path.startswith("/data/"):
        relative = parsed.path.removeprefix("/data/")
        candidates = [base / relative, base / "media" / relative, base / Path(relative).name]
    else:
        candidates = [base / parsed.path, base / "images" / Path(parsed.path).name]
    found = next((c for c in candidates if c.is_file()), candidates[0])
    return found.resolve()


def load_label_studio(file: Path) -> PersonDataset:
    """Read a Label Studio JSON export into a PersonDataset."""
    file = file.resolve()
    items, places = [], []
    for index, task in enumerate(read_json_list(file)):
        at = Where(file, index, "task")
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise at.error("data", "expected a task object with a `data` object")
        data, results = task["data"], _results(at, task)
        captions = _captions(at, results)
        if not captions:
            continue
        meta = {**data, **{k: v for k in META_NAMES if (v := _meta(results, k)) is not None}}
        if "person_id" not in meta:
            meta["person_id"] = task.get("id", index)
        person_id = get_id(at, meta, "person_id")
        split = get_split(at, meta, "split") if "split" in meta else split_by_identity(person_id)
        path = _image_path(at, get_str(at, data, "image"), file.parent)
        items.append(PersonImage(path=path, person_id=person_id, split=split, captions=captions))
        places.append(at)
    check_images(items, places, "data.image")
    return PersonDataset(f"label-studio:{file.stem}", file.parent, items)

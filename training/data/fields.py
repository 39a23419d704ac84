"""Errors that name the file, record and field at fault, and the checks every loader shares."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.data.types import SPLITS, PersonImage


class DatasetError(ValueError):
    """A dataset file is unreadable or malformed; the message names the file, record index and field."""


class MissingImageError(DatasetError):
    """An annotation points at an image file that does not exist."""


@dataclass(frozen=True)
class Where:
    """A record's place: its file and its index (JSON records) or line number (CSV, JSONL)."""

    file: Path
    index: int | None = None
    unit: str = "record"

    def error(self, field: str | None, problem: str) -> DatasetError:
        """'FILE: record 3: field 'captions': expected ...' (parts left out when unknown)."""
        where = [str(self.file)]
        if self.index is not None:
            where.append(f"{self.unit} {self.index}")
        if field is not None:
            where.append(f"field {field!r}")
        return DatasetError(": ".join([*where, problem]))


def get_str(at: Where, record: Any, field: str) -> str:
    """A required non-empty string field."""
    value = _get(at, record, field)
    if not isinstance(value, str) or not value.strip():
        raise at.error(field, f"expected a non-empty string, got {value!r}")
    return value


def get_id(at: Where, record: Any, field: str) -> int:
    """A required integer person id (digit strings are accepted)."""
    value = _get(at, record, field)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise at.error(field, f"expected an integer person id, got {value!r}")
    return value


def get_captions(at: Where, record: Any, field: str = "captions") -> tuple[str, ...]:
    """A required non-empty list of non-empty strings, whitespace collapsed."""
    value = _get(at, record, field)
    if not isinstance(value, list) or not value:
        raise at.error(field, f"expected a non-empty list of strings, got {value!r}")
    for k, text in enumerate(value):
        if not isinstance(text, str) or not text.strip():
            raise at.error(f"{field}[{k}]", f"expected a non-empty string, got {text!r}")
    return tuple(" ".join(t.split()) for t in value)


def get_split(at: Where, record: Any, field: str, allowed: tuple[str, ...] = SPLITS) -> str:
    """A required split name out of `allowed`."""
    value = _get(at, record, field)
    if value not in allowed:
        raise at.error(field, f"expected one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _get(at: Where, record: Any, field: str) -> Any:
    if not isinstance(record, dict):
        raise at.error(None, f"expected an object, got {type(record).__name__}")
    if field not in record:
        raise at.error(field, "missing")
    return record[field]


def split_by_identity(person_id: int) -> str:
    """A stable train/val/test split (80/10/10) from the id, for data that names no split."""
    bucket = zlib.crc32(str(person_id).encode()) % 10
    return "val" if bucket == 0 else "test" if bucket == 1 else "train"


def check_images(items: list[PersonImage], places: list[Where], field: str) -> None:
    """Raise MissingImageError naming the first missing image, its record and field, and the count missing."""
    missing = [(item, at) for item, at in zip(items, places, strict=True) if not item.path.is_file()]
    if missing:
        (item, at), more = missing[0], len(missing) - 1
        extra = f" (and {more} more missing)" if more else ""
        message = str(at.error(field, f"image {item.path} does not exist{extra}"))
        raise MissingImageError(message)

"""What free metadata the gallery stores and compares: JSON that SQLite and Milvus both take whole.

Numbers must be finite and integers fit 64 bits (SQLite compares int64; Milvus refuses larger JSON
integers, which would stall fleet replication on that row); text must be valid Unicode (no lone
surrogates, which neither UTF-8 nor the JSON answers can carry); nesting is bounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from index.errors import FieldError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 32  # levels of nested objects and arrays in one item's metadata
Scalar = str | int | float | bool


def check_text(field: str, value: Any) -> None:
    """Text UTF-8 can carry."""
    if not isinstance(value, str):
        raise FieldError(field, f"{type(value).__name__} is not text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError(field, "not valid Unicode text (a lone surrogate)") from None


def key_name(field: str, key: object) -> str:
    """`field.key`, with characters UTF-8 cannot carry escaped so the name itself can be shown."""
    return f"{field}.{str(key).encode('utf-8', 'backslashreplace').decode('utf-8')}"


def check_scalar(field: str, value: Any) -> None:
    """A JSON scalar the gallery can store and compare: str, bool, int64, finite float (None passes)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        check_text(field, value)
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise FieldError(field, f"integer {value} does not fit 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise FieldError(field, f"{value} is not a finite number")
    else:
        raise FieldError(field, f"{type(value).__name__} is not a JSON value")


def check_metadata(extra: dict[str, Any], field: str = "metadata") -> None:
    """Refuse metadata the gallery could not store, compare or replicate; FieldError names the path."""
    _check(field, extra, 0)


def _check(field: str, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise FieldError(field, f"nested deeper than {MAX_DEPTH} levels")
    entries: Iterable[tuple[str, Any]]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise FieldError(field, f"key {key!r} is not text")
            check_text(key_name(field, key), key)
        entries = ((key_name(field, key), item) for key, item in value.items())
    elif isinstance(value, list | tuple):
        entries = ((f"{field}[{i}]", item) for i, item in enumerate(value))
    else:
        check_scalar(field, value)
        return
    for path, item in entries:
        _check(path, item, depth + 1)


def check_filter(field: str, value: Any) -> None:
    """A metadata filter value: one scalar to compare with equality."""
    if value is not None and not isinstance(value, Scalar):
        kind = type(value).__name__
        raise FieldError(field, f"a metadata filter compares str, int, float, bool or None, not {kind}")
    check_scalar(field, value)

"""What an audit row's details may hold, and the details of each audited action.

Details are plain JSON: strings (a search text at most), numbers, booleans and null, in lists of ids or
short strings and small objects. So the trail can never hold a crop (bytes, or a long base64 string) or an
embedding (a list of floats): `check_details` refuses them with a TypeError naming the field.
"""

from __future__ import annotations

import hashlib
from typing import Any

from service.alert_schemas import WatchlistPublic
from service.export import ExportEntry
from service.schemas import TEXT_CAP, SearchRequest, SearchResults

MAX_STRING = TEXT_CAP  # a search's description is the longest string a row records
MAX_LIST = 10_000  # ids in one export or track
MAX_DEPTH = 4  # an export: {"search": {"filters": {"metadata": {"zone": "north"}}}}
Scalar = str | int | float | bool | None


def check_details(action: str, details: dict[str, Any]) -> dict[str, Any]:
    """The details unchanged, or TypeError naming the first value that is not plain, short JSON."""
    _check(f"{action}.details", details, 0)
    return details


def _check(where: str, value: object, depth: int) -> None:
    """Raise unless value is a short scalar, a list of ints/strings, or a shallow object of these."""
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise TypeError(f"audit {where}: nested deeper than {MAX_DEPTH} objects")
        for key, inner in value.items():
            if not isinstance(key, str) or len(key) > 64:
                raise TypeError(f"audit {where}: keys are strings of at most 64 characters")
            _check(f"{where}.{key}", inner, depth + 1)
    elif isinstance(value, list | tuple):
        if len(value) > MAX_LIST:
            raise TypeError(f"audit {where}: a list of {len(value)} values (at most {MAX_LIST})")
        if not all(isinstance(v, int | str) and not isinstance(v, bool) for v in value):
            raise TypeError(f"audit {where}: lists hold ids or names only (no floats: no embeddings)")
        for i, inner in enumerate(value):
            _check(f"{where}[{i}]", inner, depth + 1)
    elif isinstance(value, str):
        if len(value) > MAX_STRING:
            raise TypeError(f"audit {where}: a string of {len(value)} characters (at most {MAX_STRING})")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise TypeError(f"audit {where}: {value} is not plain JSON (no NaN or infinity)")
    elif not isinstance(value, int | bool) and value is not None:
        raise TypeError(f"audit {where}: {type(value).__name__} is not plain JSON (no bytes, no arrays)")


def search_details(body: SearchRequest, results: SearchResults) -> dict[str, Any]:
    """What a search asked (description, example, filters) and how many results it got; no vectors."""
    asked = body.model_dump(mode="json", exclude_none=True, exclude={"like", "text_weight", "order"})
    if results.example is not None:
        asked["example"] = results.example  # {item_id}, {track_id} or {image_sha256}
    return {**asked, "count": results.count}


def export_details(asked: dict[str, Any], entries: list[ExportEntry], archive: bytes) -> dict[str, Any]:
    """What an export held: the request, the items, and the archive's sha256 (ties the ZIP to this row)."""
    request = {k: v for k, v in asked.items() if k in ("search", "tracks", "items")}
    return {
        **request,
        "exported_items": [e.item.id for e in entries],
        "archive_sha256": hashlib.sha256(archive).hexdigest(),
    }


def watchlist_details(watchlist: WatchlistPublic) -> dict[str, Any]:
    """What a new watchlist watches for (never its embedding, nor its webhook URL, which may hold a token)."""
    shown = watchlist.model_dump(mode="json", include={"id", "name", "kind", "text", "item_id", "cameras"})
    return {**shown, "sensitivity": watchlist.sensitivity, "webhook": watchlist.webhook_url is not None}

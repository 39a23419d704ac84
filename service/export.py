"""Evidence export: a result set or chosen tracks as a ZIP of crops, frames with boxes and a manifest.

The manifest (JSON and CSV) says what was asked (query, filters, example), who asked (the API key's
name, never the key) and when, and for every hit its camera, time, score, track and sha256, so
each file in the archive can be checked against it.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index import Gallery, GalleryItem
from service.evidence import frame_with_box

CSV_FIELDS = [
    "rank", "item_id", "score", "camera", "captured_at", "track_id", "track_first_seen", "track_last_seen",
    "sha256", "crop_file", "frame_file",
]  # fmt: skip


@dataclass(frozen=True)
class ExportEntry:
    """One exported crop: its record and, when it came from a search, its rank and score."""

    item: GalleryItem
    rank: int
    score: float | None = None


def _row(entry: ExportEntry, crop: str, frame: str | None) -> dict[str, Any]:
    """The manifest row of one crop."""
    meta, track = entry.item.meta, entry.item.meta.track
    return {
        "rank": entry.rank,
        "item_id": entry.item.id,
        "score": entry.score,
        "camera": meta.camera,
        "captured_at": meta.captured_at.isoformat() if meta.captured_at else None,
        "track_id": track.id if track else None,
        "track_first_seen": track.first_seen.isoformat() if track else None,
        "track_last_seen": track.last_seen.isoformat() if track else None,
        "sha256": entry.item.sha256,
        "crop_file": crop,
        "frame_file": frame,
    }


def build_zip(gallery: Gallery, entries: list[ExportEntry], request: dict[str, Any]) -> bytes:
    """The archive: crops/, frames/ (box drawn) and manifest.json + manifest.csv."""
    out = io.BytesIO()
    rows = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in entries:
            crop_path = gallery.image_file(entry.item.id)
            if crop_path is None:  # deleted meanwhile
                continue
            crop = f"crops/{entry.rank:04d}-{entry.item.id}{Path(crop_path).suffix}"
            archive.write(crop_path, crop)
            frame = _add_frame(archive, gallery, entry)
            rows.append(_row(entry, crop, frame))
        manifest = {
            **request,
            "exported_at": datetime.now(UTC).isoformat(),
            "count": len(rows),
            "items": rows,
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))
        archive.writestr("manifest.csv", _csv(rows))
    return out.getvalue()


def _add_frame(archive: zipfile.ZipFile, gallery: Gallery, entry: ExportEntry) -> str | None:
    """The evidence frame with the crop's box drawn, when the crop has one."""
    path = gallery.frame_file(entry.item.id)
    if path is None:
        return None
    name = f"frames/{entry.rank:04d}-{entry.item.id}.jpg"
    archive.writestr(name, frame_with_box(path, entry.item.meta.box))
    return name


def _csv(rows: list[dict[str, Any]]) -> str:
    """The manifest rows as CSV."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()

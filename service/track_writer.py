"""Finished camera tracks into the gallery: each chosen crop embedded and stored with its track and frame.

A track is named by (camera, source, first seen, tracker id), so reading the same video again maps to the
same gallery track, and its crops, byte-identical, are duplicates: nothing is added twice.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from cameras.types import Crop, Track
from index import AddResult, Gallery, ItemMeta, TrackRef

CROP_JPEG_QUALITY = 92
Embed = Callable[[list[Image.Image]], np.ndarray]  # RGB crops -> unit vectors (N, D)


def crop_jpeg(crop: Crop) -> bytes:
    """The crop's pixels as the JPEG the gallery stores (deterministic for the same pixels)."""
    out = io.BytesIO()
    Image.fromarray(crop.pixels).save(out, format="JPEG", quality=CROP_JPEG_QUALITY)
    return out.getvalue()


def track_key(track: Track, source: str) -> str:
    """The stable name of a track at its source."""
    return f"{track.camera}|{source}|{track.first_seen.isoformat()}|{track.local_id}"


def track_metas(track: Track, source: str) -> list[ItemMeta]:
    """One ItemMeta per chosen crop: camera, capture time, track, box in the evidence frame, quality."""
    ref = TrackRef(track_key(track, source), track.first_seen, track.last_seen)
    return [
        ItemMeta(
            camera=track.camera,
            captured_at=crop.time,
            track=ref,
            box=(
                crop.box[0] * crop.frame_scale,
                crop.box[1] * crop.frame_scale,
                crop.box[2] * crop.frame_scale,
                crop.box[3] * crop.frame_scale,
            ),
            quality=round(crop.quality, 4),
        )
        for crop in track.crops
    ]


class TrackWriter:
    """A camera pipeline's sink: embeds a finished track's crops and adds them to the gallery."""

    def __init__(self, gallery: Gallery, embed: Embed, source: str) -> None:
        self.gallery, self.embed, self.source = gallery, embed, source
        self.added = 0

    def __call__(self, track: Track) -> list[AddResult]:
        """Store one track; returns each crop's outcome (duplicates for a video read before)."""
        blobs = [crop_jpeg(c) for c in track.crops]
        shas = [hashlib.sha256(b).hexdigest() for b in blobs]
        known = [self.gallery.find_sha256(sha) for sha in shas]
        if blobs and None not in known:  # read before: no need to run the image tower
            return [AddResult(int(k or 0), sha, duplicate=True) for k, sha in zip(known, shas, strict=True)]
        if not blobs:
            return []
        # Embed what is stored (the JPEG, decoded), so a reindex or a search with the same file agrees.
        vectors = self.embed([Image.open(io.BytesIO(b)).convert("RGB") for b in blobs])
        frames = [c.frame_jpeg for c in track.crops]
        results = self.gallery.add(blobs, vectors, track_metas(track, self.source), frames)
        self.added += sum(not r.duplicate for r in results)
        return results

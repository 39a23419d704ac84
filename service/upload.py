"""Uploaded bytes -> a decoded image under the ingest policy (service/image_policy.py), refusals as HTTP."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from PIL import Image

from index.images import ImageFormat, sniff_format
from service.errors import ApiError
from service.image_policy import ImageLimits, ImageRejected, RejectKind, decode_image

__all__ = ["MEDIA_TYPES", "DecodedImage", "decode_upload", "sniff_format"]

MEDIA_TYPES = {f: f.media_type for f in ImageFormat}
STATUS = {
    RejectKind.TOO_LARGE: 413,
    RejectKind.UNSUPPORTED: 415,
    RejectKind.UNREADABLE: 400,
    RejectKind.TOO_SMALL: 422,
}


@dataclass(frozen=True)
class DecodedImage:
    """A checked upload: its bytes, their hash, the sniffed format and the decoded image."""

    filename: str
    data: bytes
    sha256: str
    format: ImageFormat
    image: Image.Image


def decode_upload(filename: str, data: bytes, max_bytes: int, max_pixels: int, min_side: int) -> DecodedImage:
    """Check and decode one uploaded file; raises ApiError (413/415/400/422) naming the file."""
    try:
        fmt, image = decode_image(data, ImageLimits(max_bytes, max_pixels, min_side))
    except ImageRejected as exc:
        raise ApiError(STATUS[exc.kind], f"{filename}: {exc.reason}", file=filename) from exc
    return DecodedImage(filename, data, hashlib.sha256(data).hexdigest(), fmt, image)

"""The one image-decode policy of every ingest path (HTTP uploads, `person-search ingest`): accepted
formats, byte, pixel and side limits, and the decompression-bomb guard.

It raises plain ImageRejected errors with a kind; service/upload.py maps the kinds to HTTP statuses and
folder ingest reports the reason beside the file, so both refuse the same files for the same reason.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, UnidentifiedImageError

from index.images import ACCEPTED, ImageFormat, sniff_format
from service.settings import LimitSettings


class RejectKind(StrEnum):
    """Why an image was refused (the HTTP layer answers 413, 415, 400 and 422 for them)."""

    TOO_LARGE = "too_large"  # bytes or pixels over the limit, or a decompression bomb
    UNSUPPORTED = "unsupported"  # not one of the accepted formats
    UNREADABLE = "unreadable"  # empty, truncated or corrupt
    TOO_SMALL = "too_small"  # a side under the minimum


class ImageRejected(ValueError):
    """An image the policy refuses: `reason` says why in words, `kind` in a word."""

    def __init__(self, reason: str, kind: RejectKind) -> None:
        super().__init__(reason)
        self.reason, self.kind = reason, kind


@dataclass(frozen=True)
class ImageLimits:
    """The limits one image must meet."""

    max_bytes: int
    max_pixels: int
    min_side: int

    @classmethod
    def of(cls, limits: LimitSettings) -> ImageLimits:
        """The limits of the service's settings."""
        return cls(limits.max_file_bytes, limits.max_pixels, limits.min_side)


DEFAULT_LIMITS = ImageLimits.of(LimitSettings())


def check_size(size: int, limits: ImageLimits) -> None:
    """Refuse a file by its size alone (callers that can stat it need not read it first)."""
    if size > limits.max_bytes:
        raise ImageRejected(
            f"{size} bytes exceeds the limit of {limits.max_bytes} per file", RejectKind.TOO_LARGE
        )
    if size == 0:
        raise ImageRejected("the file is empty", RejectKind.UNREADABLE)


def decode_image(data: bytes, limits: ImageLimits) -> tuple[ImageFormat, Image.Image]:
    """Check and decode image bytes: the format sniffed from them and the decoded first frame."""
    check_size(len(data), limits)
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageRejected(f"not a supported image (accepted: {ACCEPTED})", RejectKind.UNSUPPORTED)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt.value])
            _check_dimensions(*image.size, limits)  # from the header, before any pixel is decoded
            image.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"refused as a decompression bomb ({exc})", RejectKind.TOO_LARGE) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRejected(f"cannot decode the {fmt.value} data ({exc})", RejectKind.UNREADABLE) from exc
    return fmt, image


def _check_dimensions(width: int, height: int, limits: ImageLimits) -> None:
    if width * height > limits.max_pixels:
        raise ImageRejected(
            f"{width}x{height} pixels exceeds the limit of {limits.max_pixels} pixels per image",
            RejectKind.TOO_LARGE,
        )
    if min(width, height) < limits.min_side:
        raise ImageRejected(
            f"{width}x{height} is smaller than {limits.min_side} pixels on a side", RejectKind.TOO_SMALL
        )

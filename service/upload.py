"""Uploaded bytes -> a decoded image, refusing what is too big, not an image, or a decompression bomb."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, UnidentifiedImageError

from service.errors import ApiError


class ImageFormat(StrEnum):
    """Formats accepted, recognised from the bytes themselves (never from the name or Content-Type)."""

    JPEG = "JPEG"
    PNG = "PNG"
    WEBP = "WEBP"
    BMP = "BMP"


MEDIA_TYPES = {
    ImageFormat.JPEG: "image/jpeg",
    ImageFormat.PNG: "image/png",
    ImageFormat.WEBP: "image/webp",
    ImageFormat.BMP: "image/bmp",
}


def sniff_format(data: bytes) -> ImageFormat | None:
    """The image format the leading bytes announce, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageFormat.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if data.startswith(b"BM"):
        return ImageFormat.BMP
    return None


@dataclass(frozen=True)
class DecodedImage:
    """A checked upload: its bytes, their hash, the sniffed format and the decoded RGB image."""

    filename: str
    data: bytes
    sha256: str
    format: ImageFormat
    image: Image.Image


def decode_upload(filename: str, data: bytes, max_bytes: int, max_pixels: int, min_side: int) -> DecodedImage:
    """Check and decode one uploaded file; raises ApiError (413/415/400) naming the file."""
    if len(data) > max_bytes:
        raise ApiError(
            413, f"{filename}: {len(data)} bytes exceeds the limit of {max_bytes} per file", file=filename
        )
    if not data:
        raise ApiError(400, f"{filename}: the file is empty", file=filename)
    fmt = sniff_format(data)
    if fmt is None:
        accepted = ", ".join(f.value for f in ImageFormat)
        raise ApiError(415, f"{filename}: not a supported image (accepted: {accepted})", file=filename)
    image = _open_checked(filename, data, fmt, max_pixels, min_side)
    return DecodedImage(filename, data, hashlib.sha256(data).hexdigest(), fmt, image)


def _open_checked(
    filename: str, data: bytes, fmt: ImageFormat, max_pixels: int, min_side: int
) -> Image.Image:
    """Read the header, check the pixel count before decoding, then decode the first frame fully."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[fmt.value])
            width, height = image.size
            if width * height > max_pixels:
                raise ApiError(
                    413,
                    f"{filename}: {width}x{height} pixels exceeds the limit of {max_pixels} pixels per image",
                    file=filename,
                )
            if min(width, height) < min_side:
                raise ApiError(
                    422,
                    f"{filename}: {width}x{height} is smaller than {min_side} pixels on a side",
                    file=filename,
                )
            image.load()
    except ApiError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ApiError(413, f"{filename}: refused as a decompression bomb ({exc})", file=filename) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ApiError(400, f"{filename}: cannot decode the {fmt.value} data ({exc})", file=filename) from exc
    return image

"""Evidence frames: the whole frame a camera crop came from, with the crop's box drawn on it."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from index.types import Box

BOX_COLOUR = (255, 40, 40)


def frame_with_box(path: Path, box: Box | None) -> bytes:
    """The frame file as a JPEG, with the box (in the frame's own pixels) outlined when given."""
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    if box is not None:
        width = max(2, round(min(image.size) / 180))
        ImageDraw.Draw(image).rectangle([round(v) for v in box], outline=BOX_COLOUR, width=width)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()

"""Content-addressed image files: original bytes under images/<sha[:2]>/<sha256>.<sniffed extension>."""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from index.fsio import fsync_dir, remove_temporaries, write_atomic

EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}


def sniff_extension(data: bytes) -> str:
    """The file extension for the image format Pillow recognises in `data`; ValueError when none."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"not an image Pillow can read: {err}") from err
    return EXTENSIONS.get(fmt, fmt.lower() or "bin")


def image_relpath(sha256: str, extension: str) -> str:
    """Where the bytes with this digest live, relative to the data directory."""
    return f"images/{sha256[:2]}/{sha256}.{extension}"


class ImageStore:
    """Writes image files durably (fsync of file and directory), several at a time."""

    def __init__(self, root: Path, workers: int = 8) -> None:
        self.root = root
        (root / "images").mkdir(parents=True, exist_ok=True)
        remove_temporaries(root / "images")
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="image-write")

    def write(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Write (relative path, bytes) pairs; returns once every file and its directory entry is on disk."""

        def one(item: tuple[str, bytes]) -> tuple[Path, bool]:
            path = self.root / item[0]
            if path.exists():  # same digest, same bytes: a file left by an earlier attempt is whole
                return path.parent, False
            created = not path.parent.is_dir()
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, item[1])
            return path.parent, created

        written = list(self._pool.map(one, files))
        directories = {directory for directory, _ in written}
        list(self._pool.map(fsync_dir, directories))  # fsyncs in parallel: the disk coalesces them
        if any(created for _, created in written):
            fsync_dir(self.root / "images")

    def remove(self, relpath: str) -> None:
        """Delete a stored file (missing is fine)."""
        self.root.joinpath(relpath).unlink(missing_ok=True)

    def path(self, relpath: str) -> Path | None:
        """Absolute path of a stored file, only when it exists and lies inside the data directory."""
        root = self.root.resolve()
        path = (root / relpath).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def close(self) -> None:
        """Stop the writer threads."""
        self._pool.shutdown(wait=True)

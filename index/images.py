"""Content-addressed image files: original bytes under images/<sha[:2]>/<sha256>.<format's extension>.

The accepted formats live here, once: the gallery names files by them and the ingest policy
(service/image_policy.py) refuses every other format, for HTTP uploads and folder ingest alike.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path

from index.fsio import fsync_dir, remove_temporaries, write_atomic

log = logging.getLogger(__name__)


class ImageFormat(StrEnum):
    """Formats accepted, recognised from the bytes themselves (never from the name or Content-Type)."""

    JPEG = "JPEG"
    PNG = "PNG"
    WEBP = "WEBP"
    BMP = "BMP"

    @property
    def extension(self) -> str:
        """The stored file's extension."""
        return {"JPEG": "jpg"}.get(self.value, self.value.lower())

    @property
    def media_type(self) -> str:
        """The Content-Type a stored file is served with."""
        return f"image/{self.value.lower()}"


ACCEPTED = ", ".join(f.value for f in ImageFormat)


def sniff_format(data: bytes) -> ImageFormat | None:
    """The accepted format the leading bytes announce, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageFormat.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if data.startswith(b"BM"):
        return ImageFormat.BMP
    return None


def sniff_extension(data: bytes) -> str:
    """The file extension for the accepted format of `data`; ValueError for any other bytes."""
    fmt = sniff_format(data)
    if fmt is None:
        raise ValueError(f"not a supported image (accepted: {ACCEPTED})")
    return fmt.extension


def image_relpath(sha256: str, extension: str) -> str:
    """Where the bytes with this digest live, relative to the data directory."""
    return f"images/{sha256[:2]}/{sha256}.{extension}"


class ImageStore:
    """Writes image files durably (fsync of file and directory), several at a time."""

    def __init__(self, root: Path, workers: int = 8) -> None:
        self.root = root
        (root / "images").mkdir(parents=True, exist_ok=True)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="image-write")
        self.write_file: Callable[[Path, bytes], None] = write_atomic  # one file, durably (a test seam)

    def write(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Write (relative path, bytes) pairs; returns once every file and its directory entry is on disk."""

        def one(item: tuple[str, bytes]) -> tuple[Path, bool]:
            path = self.root / item[0]
            if path.exists():  # same digest, same bytes: a file left by an earlier attempt is whole
                return path.parent, False
            created = not path.parent.is_dir()
            path.parent.mkdir(parents=True, exist_ok=True)
            self.write_file(path, item[1])
            return path.parent, created

        written = list(self._pool.map(one, files))
        directories = {directory for directory, _ in written}
        list(self._pool.map(fsync_dir, directories))  # fsyncs in parallel: the disk coalesces them
        if any(created for _, created in written):
            fsync_dir(self.root / "images")

    def has(self, relpath: str) -> bool:
        """Whether a stored file exists."""
        return self.root.joinpath(relpath).is_file()

    def remove(self, relpath: str) -> None:
        """Delete a stored file (missing is fine)."""
        self.root.joinpath(relpath).unlink(missing_ok=True)

    def remove_all(self, relpaths: Sequence[str]) -> None:
        """Delete stored files in parallel: unlinking a file that was fsynced waits on the filesystem's
        journal, and several waits overlap."""
        list(self._pool.map(self.remove, relpaths))

    def sweep(self, referenced: set[str]) -> int:
        """Delete files no row references (an addition a crash cut short) and write leftovers -> count.

        Only safe while no other handle on the gallery can be between writing a file and committing it.
        """
        images = self.root / "images"
        removed = remove_temporaries(images)
        for sub in (d for d in os.scandir(images) if d.is_dir()):
            for entry in os.scandir(sub.path):
                if entry.is_file() and f"images/{sub.name}/{entry.name}" not in referenced:
                    os.unlink(entry.path)
                    removed += 1
        if removed:
            log.info("removed %d image files no gallery row references", removed)
        return removed

    def path(self, relpath: str) -> Path | None:
        """Absolute path of a stored file, only when it exists and lies inside the data directory."""
        root = self.root.resolve()
        path = (root / relpath).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def close(self) -> None:
        """Stop the writer threads."""
        self._pool.shutdown(wait=True)

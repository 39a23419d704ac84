"""Durable file writes: temporary file, fsync, rename, fsync of the directory."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path


def temp_name(path: Path) -> Path:
    """A temporary sibling of `path`, unique per process and thread, recognisable by its .tmp suffix."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new entry in `directory` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash leaves either no file or the whole file (no directory fsync)."""
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def sha256_file(path: Path, length: int, chunk: int = 1 << 22) -> str:
    """Hex sha256 of the first `length` bytes of a file, read in chunks (snapshots can be gigabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        left = length
        while left > 0:
            block = f.read(min(chunk, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def remove_temporaries(directory: Path) -> int:
    """Delete the .tmp leftovers of writes a crash interrupted; returns how many there were."""
    if not directory.is_dir():
        return 0
    stale = [p for p in directory.rglob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)

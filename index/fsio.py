"""Durable file writes (temporary file, fsync, rename, fsync of the directory) and the gallery's open lock."""

from __future__ import annotations

import fcntl
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


class OpenLock:
    """A shared flock every open gallery holds on a file in its directory, across processes.

    `alone` says whether this handle got it exclusively at first (no other gallery handle, in any
    process, is open), which is when clean-up that would race another writer is safe; `share()` then
    lets others in. An opener that finds the lock held waits for such a clean-up to finish.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.alone = True
        except BlockingIOError:
            self.alone = False
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def share(self) -> None:
        """Turn an exclusive hold into a shared one."""
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def close(self) -> None:
        """Release the lock (closing the descriptor releases it)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

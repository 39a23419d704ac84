"""FAISS snapshot files: the serialized index, then a JSON footer saying what it covers and its checksum.

Layout: [faiss.write_index bytes][footer JSON][u64 footer length][8-byte end marker]. The file is written
under a temporary name, fsynced and renamed, so a reader sees a whole old or a whole new snapshot; the
checksum catches what a disk or a person did to it afterwards.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import faiss

from index.errors import SnapshotError
from index.fsio import fsync_dir, sha256_file, temp_name

MAGIC = b"PSFAISS1"
TAIL = struct.Struct("<Q8s")  # footer length, end marker


def write_snapshot(index: faiss.Index, path: Path, covers: dict[str, Any]) -> None:
    """Atomically replace `path` with `index` and a footer recording `covers`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        faiss.write_index(index, str(tmp))
        size = tmp.stat().st_size
        footer = json.dumps({**covers, "payload_bytes": size, "payload_sha256": sha256_file(tmp, size)})
        with open(tmp, "ab") as f:
            f.write(footer.encode())
            f.write(TAIL.pack(len(footer.encode()), MAGIC))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def read_footer(path: Path) -> dict[str, Any]:
    """The footer of a snapshot, after checking the end marker and lengths (not yet the checksum)."""
    if not path.is_file():
        raise SnapshotError(f"no snapshot at {path}")
    size = path.stat().st_size
    if size < TAIL.size:
        raise SnapshotError(f"snapshot {path} is truncated ({size} bytes)")
    with open(path, "rb") as f:
        f.seek(size - TAIL.size)
        length, magic = TAIL.unpack(f.read(TAIL.size))
        if magic != MAGIC or length > size - TAIL.size:
            raise SnapshotError(f"snapshot {path} has no valid end marker (truncated or overwritten)")
        f.seek(size - TAIL.size - length)
        raw = f.read(length)
    try:
        footer = json.loads(raw)
    except ValueError as err:
        raise SnapshotError(f"snapshot {path} has an unreadable footer: {err}") from err
    if not isinstance(footer, dict) or footer.get("payload_bytes") != size - TAIL.size - length:
        raise SnapshotError(f"snapshot {path}: footer does not match the file's length")
    return footer


def read_snapshot(path: Path) -> tuple[faiss.Index, dict[str, Any]]:
    """The index stored in `path` and its footer; SnapshotError when anything about it is off."""
    footer = read_footer(path)
    if sha256_file(path, footer["payload_bytes"]) != footer.get("payload_sha256"):
        raise SnapshotError(f"snapshot {path} fails its checksum (corrupt)")
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as err:
        raise SnapshotError(f"FAISS cannot read snapshot {path}: {err}") from err
    return index, footer

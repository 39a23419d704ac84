"""Ingesting a folder into a gallery: read and decode ahead, encode in batches, write behind.

Three stages overlap (a reader thread, the encoder in the caller's thread, a writer thread), so the
encoder, which is the expensive part, rarely waits for disk. Bytes already stored are skipped before
encoding, which makes an interrupted ingest resumable by running it again. Files are checked and decoded
under the same policy as HTTP uploads (service/image_policy.py).
"""

from __future__ import annotations

import glob
import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from engine.encoder import Encoder
from index import AddResult, Gallery, ItemMeta
from index.images import ImageFormat
from service.image_policy import DEFAULT_LIMITS, ImageLimits, ImageRejected, check_size, decode_image

# what a folder's images are found by: the accepted formats, and GIF and TIFF so that refusing them is said
IMAGE_SUFFIXES = frozenset({".jpeg", ".gif", ".tif", ".tiff", *(f".{f.extension}" for f in ImageFormat)})


@dataclass
class IngestSummary:
    """What an ingest did, with a reason for every rejected file."""

    added: int = 0
    duplicate: int = 0  # bytes already in the gallery (or twice in this run)
    near_duplicate: int = 0  # added, but within the near-duplicate cosine of an existing item
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def lines(self) -> list[str]:
        """A human summary, one rejected file per line."""
        head = f"added {self.added}, duplicate {self.duplicate}, rejected {len(self.rejected)}"
        if self.near_duplicate:
            head += f" (near-duplicates flagged among added: {self.near_duplicate})"
        return [head, *(f"  rejected {name}: {reason}" for name, reason in self.rejected)]


@dataclass
class _Loaded:
    path: Path
    data: bytes = b""
    image: Image.Image | None = None
    reason: str | None = None  # why it is rejected
    stored: bool = False  # bytes already in the gallery


def collect_files(sources: Sequence[str]) -> list[Path]:
    """Image files from folders (recursively, by suffix), single files and glob patterns, in order."""
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif path.is_file():
            found.append(path)
        else:
            matches = sorted(Path(m) for m in glob.glob(source, recursive=True) if Path(m).is_file())
            if not matches:
                raise FileNotFoundError(f"{source} is no folder or file and matches no files")
            found += matches
    return list(dict.fromkeys(found))


def _load(path: Path, gallery: Gallery, limits: ImageLimits) -> _Loaded:
    """Read, hash and decode one file; skip decoding when its bytes are already stored."""
    try:
        check_size(path.stat().st_size, limits)  # an oversized file is refused unread
        data = path.read_bytes()
    except OSError as err:
        return _Loaded(path, reason=f"cannot read: {err.strerror or err}")
    except ImageRejected as err:
        return _Loaded(path, reason=err.reason)
    if gallery.find_sha256(hashlib.sha256(data).hexdigest()) is not None:
        return _Loaded(path, data, stored=True)
    try:
        return _Loaded(path, data, decode_image(data, limits)[1])
    except ImageRejected as err:
        return _Loaded(path, data, reason=err.reason)


def ingest_files(
    files: Sequence[Path],
    encoder: Encoder,
    gallery: Gallery,
    camera: str | None = None,
    batch_size: int = 32,
    progress: Callable[[int], object] | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> IngestSummary:
    """Add image files to the gallery in batches; returns counts and per-file reasons for rejections.

    `limits` are the service's (ImageLimits.of(settings.limits)), so a file is refused here when an
    upload of it would be."""
    summary = IngestSummary()
    batches = [list(files[i : i + batch_size]) for i in range(0, len(files), batch_size)]

    def tally(results: list[AddResult], count: int) -> None:
        for result in results:
            summary.duplicate += result.duplicate
            summary.added += not result.duplicate
            summary.near_duplicate += result.near_duplicate_of is not None and not result.duplicate
        if progress is not None:
            progress(count)

    def load(batch: list[Path]) -> list[_Loaded]:
        return [_load(path, gallery, limits) for path in batch]

    with ThreadPoolExecutor(1, "ingest-read") as reader, ThreadPoolExecutor(1, "ingest-write") as writer:
        queue, ahead = iter(batches), deque[Future[list[_Loaded]]]()

        def read_ahead() -> None:  # keep two batches loading while one is encoded
            while len(ahead) < 2 and (batch := next(queue, None)) is not None:
                ahead.append(reader.submit(load, batch))

        read_ahead()
        writing: tuple[Future[list[AddResult]], int] | None = None
        while ahead:
            loaded = ahead.popleft().result()
            read_ahead()
            summary.rejected += [(str(x.path), x.reason) for x in loaded if x.reason]
            summary.duplicate += sum(x.stored for x in loaded)
            good = [x for x in loaded if x.image is not None]
            vectors = encoder.encode_images([x.image for x in good if x.image is not None])
            if writing is not None:
                tally(writing[0].result(), writing[1])
            metas = [ItemMeta(camera=camera, extra={"source_file": x.path.name}) for x in good]
            writing = (writer.submit(gallery.add, [x.data for x in good], vectors, metas), len(loaded))
        if writing is not None:
            tally(writing[0].result(), writing[1])
    return summary

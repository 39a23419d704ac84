"""One upload: check and decode each file, skip duplicates, preprocess, encode (batched), add.

Each file gets its own outcome; a file that fails any step is reported and the rest go on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from starlette.concurrency import run_in_threadpool

from engine.encoder import Encoder
from index.types import ItemMeta
from service.errors import ApiError
from service.runtime import Runtime
from service.schemas import FileError, UploadOutcome, UploadResults
from service.settings import LimitSettings
from service.upload import DecodedImage, decode_upload


@dataclass
class Upload:
    """One file of a request: where it was, its name and bytes (None when already refused)."""

    index: int
    filename: str
    data: bytes | None
    refused: ApiError | None = None


def _failed(upload: Upload, error: ApiError) -> UploadOutcome:
    """The outcome of a refused file."""
    return UploadOutcome(
        index=upload.index,
        filename=upload.filename,
        status="error",
        error=FileError(status=error.status_code, code=str(error.code), message=error.message),
    )


def _decode_all(
    uploads: Sequence[Upload], limits: LimitSettings
) -> tuple[list[tuple[Upload, DecodedImage]], dict[int, UploadOutcome]]:
    """Decode every file, collecting the good ones and an outcome for each refusal."""
    good, outcomes = [], {}
    for upload in uploads:
        try:
            if upload.refused is not None or upload.data is None:
                raise upload.refused or ApiError(400, f"{upload.filename}: no data", file=upload.filename)
            good.append(
                (
                    upload,
                    decode_upload(
                        upload.filename,
                        upload.data,
                        limits.max_file_bytes,
                        limits.max_pixels,
                        limits.min_side,
                    ),
                )
            )
        except ApiError as exc:
            outcomes[upload.index] = _failed(upload, exc)
    return good, outcomes


def _preprocess_all(
    encoder: Encoder, decoded: list[tuple[Upload, DecodedImage]], outcomes: dict[int, UploadOutcome]
) -> tuple[list[tuple[Upload, DecodedImage]], np.ndarray]:
    """Preprocess each crop on its own, so one odd image cannot fail the others."""
    kept, rows = [], []
    for upload, image in decoded:
        try:
            rows.append(encoder.preprocess([image.image])[0])  # (3, H, W)
            kept.append((upload, image))
        except (ValueError, TypeError, OSError) as exc:
            outcomes[upload.index] = _failed(
                upload, ApiError(400, f"{upload.filename}: cannot preprocess ({exc})")
            )
    h, w = encoder.spec.image_size
    return kept, (np.stack(rows) if rows else np.zeros((0, 3, h, w), np.float32))  # (N, 3, H, W)


async def ingest(runtime: Runtime, uploads: list[Upload], meta: ItemMeta) -> UploadResults:
    """Add the good files of one request to the gallery and report every file's outcome."""
    start = time.perf_counter()
    encoder, towers, gallery = runtime.parts()
    stages: dict[str, float] = {}
    decoded, outcomes = await run_in_threadpool(_decode_all, uploads, runtime.settings.limits)
    stages["decode"] = (time.perf_counter() - start) * 1000.0

    fresh, repeats = [], []  # repeats: later copies of bytes seen earlier in this request
    first_of: dict[str, int] = {}
    known = await run_in_threadpool(lambda: [gallery.find_sha256(image.sha256) for _, image in decoded])
    for (upload, image), existing in zip(decoded, known, strict=True):
        if existing is not None:
            outcomes[upload.index] = UploadOutcome(
                index=upload.index,
                filename=upload.filename,
                status="duplicate",
                id=existing,
                sha256=image.sha256,
            )
        elif image.sha256 in first_of:
            repeats.append((upload, image))
        else:
            first_of[image.sha256] = upload.index
            fresh.append((upload, image))

    mark = time.perf_counter()
    fresh, pixels = await run_in_threadpool(_preprocess_all, encoder, fresh, outcomes)
    stages["preprocess"] = (time.perf_counter() - mark) * 1000.0
    rows, encode_stages = await towers.embed_pixels(pixels)  # (N, D)
    stages.update(encode_stages)

    mark = time.perf_counter()
    if fresh:
        results = await run_in_threadpool(
            gallery.add, [im.data for _, im in fresh], rows, [meta] * len(fresh)
        )
        for (upload, image), result in zip(fresh, results, strict=True):
            outcomes[upload.index] = UploadOutcome(
                index=upload.index,
                filename=upload.filename,
                status="duplicate" if result.duplicate else "added",
                id=result.id,
                sha256=image.sha256,
                near_duplicate_of=result.near_duplicate_of,
            )
    stages["index"] = (time.perf_counter() - mark) * 1000.0
    for upload, image in repeats:
        first = outcomes[first_of[image.sha256]]
        if first.status == "error":
            outcomes[upload.index] = first.model_copy(
                update={"index": upload.index, "filename": upload.filename}
            )
        else:
            outcomes[upload.index] = UploadOutcome(
                index=upload.index,
                filename=upload.filename,
                status="duplicate",
                id=first.id,
                sha256=image.sha256,
            )
    stages["total"] = (time.perf_counter() - start) * 1000.0
    return _summarise(runtime, [outcomes[u.index] for u in uploads], stages)


def _summarise(runtime: Runtime, items: list[UploadOutcome], stages: dict[str, float]) -> UploadResults:
    """Count outcomes, record timings, and build the response."""
    counts = {
        status: sum(1 for i in items if i.status == status) for status in ("added", "duplicate", "error")
    }
    for status, n in counts.items():
        if n:
            runtime.metrics.ingested.labels(status).inc(n)
    if counts["added"]:
        runtime.observe("ingest", stages)
    return UploadResults(
        added=counts["added"],
        duplicates=counts["duplicate"],
        failed=counts["error"],
        items=items,
        timings_ms={k: round(v, 3) for k, v in stages.items()},
    )

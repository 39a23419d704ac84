"""`person-search ingest` and `reindex`: the gallery from the command line (`search` is in search_cmds).

Each builds the same Settings as `serve` (environment, then flags), so it loads the bundle on the same
backend, precision, device and threads, and opens the same gallery (FAISS or Milvus, fleet outbox).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from cli.app import app
from cli.settings_flags import (
    BackendFlag,
    BundleFlag,
    DataDirFlag,
    DeviceFlag,
    FactoryFlag,
    IndexBackendFlag,
    MilvusUriFlag,
    PrecisionFlag,
    ThreadsFlag,
    require_bundle,
    require_data_dir,
    settings_from_flags,
)

if TYPE_CHECKING:
    from PIL import Image

    from engine import Encoder
    from index import Gallery
    from service.settings import Settings


def gallery_settings(given: dict[str, object]) -> Settings:
    """The serve Settings for a gallery command: a bundle and an explicitly named data directory."""
    settings = settings_from_flags(given)
    require_bundle(settings)
    require_data_dir(settings)
    return settings


def encoder_or_exit(settings: Settings, batch_size: int) -> Encoder:
    """The configured encoder, or a usage error saying why it cannot load here."""
    from service.components import encoder_from_settings

    try:
        return encoder_from_settings(settings, max_batch=batch_size)
    except (RuntimeError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err


def open_gallery_or_exit(settings: Settings, encoder: Encoder) -> Gallery:
    """Open the gallery as serve would, turning a model mismatch into a clear CLI error (exit code 2)."""
    from index import ModelMismatchError
    from service.components import gallery_from_settings

    try:
        return gallery_from_settings(settings, encoder)
    except ModelMismatchError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="image folders, files or glob patterns")],
    model: BundleFlag = None,
    data: DataDirFlag = None,
    camera: Annotated[str | None, typer.Option(help="camera name recorded with every image")] = None,
    batch_size: Annotated[int, typer.Option(help="images per encoder batch")] = 32,
    backend: BackendFlag = None,
    precision: PrecisionFlag = None,
    device: DeviceFlag = None,
    threads: ThreadsFlag = None,
    factory: FactoryFlag = None,
    index_backend: IndexBackendFlag = None,
    milvus_uri: MilvusUriFlag = None,
) -> None:
    """Add a folder (or files, or glob patterns) of person crops to the gallery; re-run to resume.

    Files are refused as `serve` refuses uploads: the same formats and PERSON_SEARCH_LIMITS__* limits.
    """
    from tqdm import tqdm

    from service.folder_ingest import collect_files, ingest_files
    from service.image_policy import ImageLimits

    settings = gallery_settings({**locals(), "bundle": model, "data_dir": data})
    try:
        files = collect_files(sources)
        limits = ImageLimits.of(settings.limits)
    except (FileNotFoundError, ValueError) as err:
        raise typer.BadParameter(str(err)) from err
    encoder = encoder_or_exit(settings, batch_size)
    with (
        open_gallery_or_exit(settings, encoder) as gallery,
        tqdm(total=len(files), unit="img", desc="ingest") as bar,
    ):
        summary = ingest_files(files, encoder, gallery, camera, batch_size, bar.update, limits)
        size = len(gallery)
    for line in summary.lines():
        typer.echo(line)
    typer.echo(
        f"gallery {settings.index.data_dir}: {size} items, model {encoder.model_id} "
        f"({encoder.backend} {encoder.precision} on {encoder.device})"
    )


def _decode_all(blobs: Sequence[bytes]) -> list[Image.Image]:
    """Stored image bytes -> RGB PIL images."""
    from PIL import Image

    return [Image.open(io.BytesIO(b)).convert("RGB") for b in blobs]


@app.command()
def reindex(
    model: BundleFlag = None,
    data: DataDirFlag = None,
    batch_size: Annotated[int, typer.Option(help="images per encoder batch")] = 32,
    backend: BackendFlag = None,
    precision: PrecisionFlag = None,
    device: DeviceFlag = None,
    threads: ThreadsFlag = None,
    factory: FactoryFlag = None,
    index_backend: IndexBackendFlag = None,
    milvus_uri: MilvusUriFlag = None,
) -> None:
    """Re-encode every stored image with this model and switch the gallery to it (resumable)."""
    from tqdm import tqdm

    from index import pending, stored_model
    from index import reindex as reindex_gallery

    settings = gallery_settings({**locals(), "bundle": model, "data_dir": data})
    data_dir = require_data_dir(settings)
    stored = stored_model(data_dir)
    if stored is None:
        raise typer.BadParameter(f"no gallery at {data_dir}", param_hint="--data")
    encoder = encoder_or_exit(settings, batch_size)
    if stored[0] == encoder.model_id:
        typer.echo(f"gallery {data_dir} is already encoded with model {encoder.model_id}; nothing to do")
        return
    with tqdm(total=pending(data_dir, encoder.model_id), unit="img", desc="reindex") as bar:
        done = reindex_gallery(
            data_dir,
            encoder.model_id,
            encoder.embed_dim,
            lambda blobs: encoder.encode_images(_decode_all(blobs)),
            batch_size,
            progress=bar.update,
        )
    with open_gallery_or_exit(settings, encoder) as gallery:
        size = len(gallery)
    typer.echo(
        f"re-encoded {done} images: gallery {data_dir} ({size} items) now uses model {encoder.model_id}"
    )

"""`person-search ingest`, `reindex` and `search`: the gallery from the command line."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from cli.app import app

if TYPE_CHECKING:
    from PIL import Image

    from index import Gallery

ModelOpt = Annotated[Path, typer.Option("--model", help="model bundle directory")]
DataOpt = Annotated[Path, typer.Option("--data", help="gallery data directory")]
BackendOpt = Annotated[str, typer.Option(help="auto, tensorrt, onnxruntime or torch")]
FactoryOpt = Annotated[
    str | None, typer.Option(help="FAISS factory string (default: what the gallery uses, else Flat)")
]


def _open_gallery(data: Path, model_id: str, dim: int, factory: str | None) -> Gallery:
    """Open the gallery, turning a model mismatch into a clear CLI error (exit code 2)."""
    from index import Gallery, ModelMismatchError, snapshot_factory

    try:
        return Gallery.open(data, model_id, dim, factory or snapshot_factory(data) or "Flat")
    except ModelMismatchError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from err


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="image folders, files or glob patterns")],
    model: ModelOpt,
    data: DataOpt,
    camera: Annotated[str | None, typer.Option(help="camera name recorded with every image")] = None,
    batch_size: Annotated[int, typer.Option(help="images per encoder batch")] = 32,
    backend: BackendOpt = "auto",
    factory: FactoryOpt = None,
) -> None:
    """Add a folder (or files, or glob patterns) of person crops to the gallery; re-run to resume.

    Files are refused as `serve` refuses uploads: the same formats and PERSON_SEARCH_LIMITS__* limits.
    """
    from tqdm import tqdm

    from engine import load_encoder
    from service.folder_ingest import collect_files, ingest_files
    from service.image_policy import ImageLimits
    from service.settings import Settings

    try:
        files = collect_files(sources)
        limits = ImageLimits.of(Settings().limits)
    except (FileNotFoundError, ValueError) as err:
        raise typer.BadParameter(str(err)) from err
    encoder = load_encoder(model, backend=backend, max_batch=batch_size)
    with (
        _open_gallery(data, encoder.model_id, encoder.embed_dim, factory) as gallery,
        tqdm(total=len(files), unit="img", desc="ingest") as bar,
    ):
        summary = ingest_files(files, encoder, gallery, camera, batch_size, bar.update, limits)
        size = len(gallery)
    for line in summary.lines():
        typer.echo(line)
    typer.echo(f"gallery {data}: {size} items, model {encoder.model_id}")


def _decode_all(blobs: Sequence[bytes]) -> list[Image.Image]:
    """Stored image bytes -> RGB PIL images."""
    from PIL import Image

    return [Image.open(io.BytesIO(b)).convert("RGB") for b in blobs]


@app.command()
def reindex(
    model: ModelOpt,
    data: DataOpt,
    batch_size: Annotated[int, typer.Option(help="images per encoder batch")] = 32,
    backend: BackendOpt = "auto",
    factory: FactoryOpt = None,
) -> None:
    """Re-encode every stored image with this model and switch the gallery to it (resumable)."""
    from tqdm import tqdm

    from engine import load_encoder
    from index import pending, stored_model
    from index import reindex as reindex_gallery

    stored = stored_model(data)
    if stored is None:
        raise typer.BadParameter(f"no gallery at {data}", param_hint="--data")
    encoder = load_encoder(model, backend=backend, max_batch=batch_size)
    if stored[0] == encoder.model_id:
        typer.echo(f"gallery {data} is already encoded with model {encoder.model_id}; nothing to do")
        return
    with tqdm(total=pending(data, encoder.model_id), unit="img", desc="reindex") as bar:
        done = reindex_gallery(
            data,
            encoder.model_id,
            encoder.embed_dim,
            lambda blobs: encoder.encode_images(_decode_all(blobs)),
            batch_size,
            progress=bar.update,
        )
    with _open_gallery(data, encoder.model_id, encoder.embed_dim, factory) as gallery:
        size = len(gallery)
    typer.echo(f"re-encoded {done} images: gallery {data} ({size} items) now uses model {encoder.model_id}")


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="description of the person")],
    model: ModelOpt,
    data: DataOpt,
    k: Annotated[int, typer.Option("-k", "--top-k", help="how many results")] = 10,
    camera: Annotated[list[str] | None, typer.Option(help="only these cameras (repeatable)")] = None,
    min_score: Annotated[float | None, typer.Option(help="drop results below this cosine")] = None,
    backend: BackendOpt = "auto",
    factory: FactoryOpt = None,
) -> None:
    """Print the gallery items that best match a description, best first."""
    from engine import load_encoder
    from index import SearchFilters

    encoder = load_encoder(model, backend=backend)
    filters = SearchFilters(cameras=frozenset(camera)) if camera else None
    query = np.asarray(encoder.encode_texts([text])[0])
    with _open_gallery(data, encoder.model_id, encoder.embed_dim, factory) as gallery:
        hits = gallery.search(query, k, filters=filters, min_score=min_score)
        rows = [(h, gallery.image_file(h.item.id)) for h in hits]
    if not rows:
        typer.echo("no results")
    for hit, path in rows:
        camera_name = hit.item.meta.camera or "-"
        typer.echo(f"{hit.rank:>3}  {hit.score:.4f}  id={hit.item.id}  camera={camera_name}  {path}")

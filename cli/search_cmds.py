"""`person-search search`: a description, an example image, or both, against the gallery without a server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer

from cli.app import app
from cli.gallery_cmds import encoder_or_exit, gallery_settings, open_gallery_or_exit
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
)

if TYPE_CHECKING:
    from engine import Encoder
    from service.settings import Settings


def example_image_vector(encoder: Encoder, settings: Settings, image: Path) -> np.ndarray:
    """An example image's unit vector through the image tower, decoded under the uploads' limits."""
    from service.image_policy import ImageLimits, ImageRejected, decode_image

    try:
        _, decoded = decode_image(image.read_bytes(), ImageLimits.of(settings.limits))
    except OSError as err:
        raise typer.BadParameter(f"{image}: {err.strerror or err}", param_hint="--image") from None
    except ImageRejected as err:
        raise typer.BadParameter(f"{image}: {err}", param_hint="--image") from None
    return np.asarray(encoder.encode_images([decoded])[0])


@app.command()
def search(
    text: Annotated[str | None, typer.Argument(help="description of the person")] = None,
    image: Annotated[Path | None, typer.Option(help="an example crop: find people who look like it")] = None,
    text_weight: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="with a description and an image: the description's share")
    ] = 0.5,
    model: BundleFlag = None,
    data: DataDirFlag = None,
    k: Annotated[int, typer.Option("-k", "--top-k", help="how many results")] = 10,
    camera: Annotated[list[str] | None, typer.Option(help="only these cameras (repeatable)")] = None,
    min_score: Annotated[float | None, typer.Option(help="drop results below this cosine")] = None,
    backend: BackendFlag = None,
    precision: PrecisionFlag = None,
    device: DeviceFlag = None,
    threads: ThreadsFlag = None,
    factory: FactoryFlag = None,
    index_backend: IndexBackendFlag = None,
    milvus_uri: MilvusUriFlag = None,
) -> None:
    """Print the gallery items that best match a description and/or an example image, best first."""
    from index import SearchFilters
    from service.examples import mix

    if not text and image is None:
        raise typer.BadParameter("give a description, --image FILE, or both", param_hint="TEXT")
    settings = gallery_settings({**locals(), "bundle": model, "data_dir": data})
    encoder = encoder_or_exit(settings, 1)
    text_vector = np.asarray(encoder.encode_texts([text])[0]) if text else None
    example = example_image_vector(encoder, settings, image) if image is not None else None
    filters = SearchFilters(cameras=frozenset(camera)) if camera else None
    with open_gallery_or_exit(settings, encoder) as gallery:
        hits = gallery.search(mix(text_vector, example, text_weight), k, filters=filters, min_score=min_score)
        rows = [(h, gallery.image_file(h.item.id)) for h in hits]
    if not rows:
        typer.echo("no results")
    for hit, path in rows:
        camera_name = hit.item.meta.camera or "-"
        typer.echo(f"{hit.rank:>3}  {hit.score:.4f}  id={hit.item.id}  camera={camera_name}  {path}")

"""`person-search synth` and `person-search eval`: make a synthetic set, score a bundle on a dataset."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from service.cli.app import app


class DomainChoice(StrEnum):
    """The synthetic domains, as the CLI offers them."""

    SOURCE = "source"
    TARGET = "target"


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="directory to write reid_raw.json and imgs/ into")],
    identities: Annotated[int, typer.Option(min=1, help="number of persons")] = 500,
    images_per_id: Annotated[int, typer.Option(min=1, help="images of each person")] = 4,
    domain: Annotated[
        DomainChoice, typer.Option(help="source: terse captions, tidy cameras; target: the shift")
    ] = (DomainChoice.SOURCE),
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 0,
    height: Annotated[int, typer.Option(help="image height in pixels")] = 96,
    width: Annotated[int, typer.Option(help="image width in pixels")] = 32,
) -> None:
    """Draw a synthetic person set with captions in CUHK-PEDES layout (train/val/test identities 80/10/10)."""
    from tqdm import tqdm

    from training.synth import generate

    with tqdm(total=identities * images_per_id, unit="img", desc=f"synth {domain}") as bar:
        path = generate(
            out, identities, images_per_id, str(domain), seed, (height, width), progress=bar.update
        )
    typer.echo(f"wrote {identities * images_per_id} images of {identities} persons; annotations: {path}")

"""`person-search info`: what a bundle holds and how it would be served here."""

from pathlib import Path
from typing import Annotated

import typer

from cli.app import app


@app.command()
def info(
    bundle: Annotated[Path, typer.Argument(help="model bundle directory")],
    backend: Annotated[str, typer.Option(help="auto, tensorrt, onnxruntime or torch")] = "auto",
) -> None:
    """Print a bundle's spec and the backend, precision and device it loads on."""
    import json

    from engine import load_encoder

    encoder = load_encoder(bundle, backend=backend)
    typer.echo(json.dumps(encoder.describe(), indent=2))
    typer.echo(json.dumps(encoder.spec.provenance, indent=2))

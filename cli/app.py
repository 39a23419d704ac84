"""The Typer application every `person-search` subcommand registers on."""

import typer

app = typer.Typer(
    name="person-search",
    help="Text-based person retrieval at the edge: train, export, index and serve.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root() -> None:
    """Text-based person retrieval at the edge: train, export, index and serve."""

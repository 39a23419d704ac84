"""The `person-search` command line: one Typer app, one module of subcommands per area."""

from service.cli import bench_cmds  # noqa: F401  (registers its commands)
from service.cli import data_cmds  # noqa: F401  (registers its commands)
from service.cli import demo_cmds  # noqa: F401  (registers its commands)
from service.cli import engine_cmds  # noqa: F401  (registers its commands)
from service.cli import gallery_cmds  # noqa: F401  (registers its commands)
from service.cli import model_cmds  # noqa: F401  (registers its commands)
from service.cli import serve_cmds  # noqa: F401  (registers its commands)
from service.cli import train_cmds  # noqa: F401  (registers its commands)
from service.cli.app import app


def main() -> None:
    """Console-script entry point."""
    app()
